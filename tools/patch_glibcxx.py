#!/usr/bin/env python3
"""Mark selected symbol-version requirements of an ELF shared object as weak.

Why: the libLibTorchSharp.so shipped in the TorchSharp NuGet package (0.107.0)
was linked against GCC 13's libstdc++ and records a requirement on
GLIBCXX_3.4.32. Debian 12 ships libstdc++ with GLIBCXX_3.4.30 at most, so the
dynamic loader refuses the library ("version `GLIBCXX_3.4.32' not found"),
which TorchSharp reports misleadingly as "doesn't contain a reference to
libtorch-cpu-...". The only symbol bound to that version is
std::ios_base_library_init(), which no relocation refers to, so the requirement
can safely be made weak: setting VER_FLG_WEAK (0x2) in vna_flags of the
matching Vernaux entry of .gnu.version_r makes ld.so only warn (under
LD_DEBUG) instead of failing.

Usage:  patch_glibcxx.py LIB.so [VERSION ...]      (default: GLIBCXX_3.4.32)
        patch_glibcxx.py --check LIB.so [VERSION ...]  (report only, no write)

Idempotent: entries already weak are left alone; the file is rewritten only if
something changed. Exit status 0 on success (also when nothing needed doing or
the version is not required at all), 1 on error. Python 3 stdlib only.
"""
import os
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2
DEFAULT_VERSIONS = ["GLIBCXX_3.4.32"]


def _cstr(buf, off):
    end = buf.index(b"\0", off)
    return buf[off:end].decode("ascii", "replace")


def patch(path, versions, write=True):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF":
        raise ValueError("%s: not an ELF file" % path)
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ValueError("%s: unsupported ELF class/data %d/%d" % (path, ei_class, ei_data))
    e = "<" if ei_data == 1 else ">"
    is64 = ei_class == 2

    if is64:
        e_shoff, = struct.unpack_from(e + "Q", data, 0x28)
        e_shentsize, e_shnum = struct.unpack_from(e + "HH", data, 0x3A)
        shdr_fmt = e + "IIQQQQIIQQ"
    else:
        e_shoff, = struct.unpack_from(e + "I", data, 0x20)
        e_shentsize, e_shnum = struct.unpack_from(e + "HH", data, 0x2E)
        shdr_fmt = e + "IIIIIIIIII"
    if e_shoff == 0 or e_shnum == 0:
        raise ValueError("%s: no section headers" % path)

    sections = []
    for i in range(e_shnum):
        f = struct.unpack_from(shdr_fmt, data, e_shoff + i * e_shentsize)
        # name, type, flags, addr, offset, size, link, info, addralign, entsize
        sections.append(f)

    verneed = [s for s in sections if s[1] == SHT_GNU_VERNEED]
    if not verneed:
        print("%s: no .gnu.version_r section; nothing to do" % path)
        return 0
    changed = 0
    found = set()
    for s in verneed:
        sec_off, link, count = s[4], s[6], s[7]
        strtab_off = sections[link][4]
        off = sec_off
        for _ in range(count):  # sh_info = number of Verneed entries
            vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from(e + "HHIII", data, off)
            lib = _cstr(data, strtab_off + vn_file)
            aoff = off + vn_aux
            for _ in range(vn_cnt):
                vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from(e + "IHHII", data, aoff)
                name = _cstr(data, strtab_off + vna_name)
                if name in versions:
                    found.add(name)
                    if vna_flags & VER_FLG_WEAK:
                        print("%s: %s (%s) already weak" % (path, name, lib))
                    else:
                        print("%s: %s (%s): flags 0x%x -> 0x%x" % (path, name, lib, vna_flags, vna_flags | VER_FLG_WEAK))
                        struct.pack_into(e + "H", data, aoff + 4, vna_flags | VER_FLG_WEAK)
                        changed += 1
                if vna_next == 0:
                    break
                aoff += vna_next
            if vn_next == 0:
                break
            off += vn_next
    for v in versions:
        if v not in found:
            print("%s: %s not required; nothing to do for it" % (path, v))
    if changed and write:
        tmp = path + ".patch-tmp"
        st = os.stat(path)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.replace(tmp, path)  # atomic; also breaks any hard link into a shared cache
        print("%s: patched %d entr%s" % (path, changed, "y" if changed == 1 else "ies"))
    elif changed:
        print("%s: %d entr%s would be patched (--check)" % (path, changed, "y" if changed == 1 else "ies"))
    return changed


def main(argv):
    args = argv[1:]
    write = True
    if args and args[0] == "--check":
        write = False
        args = args[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 1
    path, versions = args[0], (args[1:] or DEFAULT_VERSIONS)
    try:
        patch(path, versions, write)
    except (OSError, ValueError, struct.error) as ex:
        print("error: %s" % ex, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
