using System;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The recurrence kernels: a layer and direction through its time steps, the gate products in register tiles, the cell update fused.</summary>
internal static partial class Emitter
{
    /// <summary>The magnitude below which recurrent state is flushed to zero (see the emitted <c>Flush</c>).</summary>
    private const string FlushBelow = "1e-30f";

    /// <summary>
    /// The rows of <c>W_hh</c> a product pass of the sequence kernel takes at a time: all of them up to 128 (a block's
    /// LSTM weights, 128 rows of 4 gates of 8 floats, are 16 KB, half of a 32 KB L1), else equal chunks of at most 128.
    /// </summary>
    private static int SequenceChunk(int h)
    {
        const int Max = 128;
        int chunks = (h + Max - 1) / Max;
        return (h + chunks - 1) / chunks;
    }

    /// <summary>Sequences of a batch the recurrence advances together, sharing each load of the weights.</summary>
    private const int SequenceRows = KernelLayout.RowTile;

    /// <summary>
    /// The products of one step for <paramref name="rows"/> sequences <c>b, b + 1, ...</c>: every gate of a block of
    /// hidden units in one pass over <c>W_hh</c> whose vectors serve all the rows. The sums go to memory
    /// (<see cref="SumSlot"/>); <see cref="WriteSequenceUpdate"/> activates them.
    /// </summary>
    private static void WriteSequenceRows(SourceWriter w, LayerSpec l, int hp, int v, int rows, bool chunked, int first = 0)
    {
        bool gru = l.Kind == LayerKind.Gru;
        string[] gates = GateSums(l, splitGruN: false);
        WriteSequenceRowRefs(w, l, hp, rows, first);
        w.Line(gru
            ? "// W_hh h for r and z from zero, added to the input products at the end; n's W_hn h + b_hn from b_hn (Step sums alike)."
            : "// W_hh h from zero, added to the input products at the end (Step sums alike, with its input products in a chain of their own).");
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < gates.Length; i++)
            {
                // The products of h start from zero and are added to the input products at the end (chunk by chunk, to the
                // partial sums): Step sums its input and recurrent products in two independent chains and adds them the
                // same way. GRU's n is the exception: W_hn h + b_hn is a sum of its own, from b_hn.
                string init = "Vec.Zero";
                if (gru && i == 2)
                {
                    init = GruNInit(l, r, v, chunked);
                }

                w.Line($"Vec {gates[i]}{r} = {init};");
            }
        }

        using (WriteProductLoop(w, l, v, chunked))
        {
            for (int i = 0; i < gates.Length; i++)
            {
                w.Line($"Vec wv{i} = V.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * v))});");
            }

            for (int r = 0; r < rows; r++)
            {
                w.Line($"Vec hk{r} = V.Create(Unsafe.Add(ref hPrev{r}, k));");
                for (int i = 0; i < gates.Length; i++)
                {
                    w.Line($"{gates[i]}{r} = V.FusedMultiplyAdd(wv{i}, hk{r}, {gates[i]}{r});");
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < gates.Length; i++)
            {
                string sum = gates[i] + Inv(r);
                if (!(gru && i == 2))
                {
                    // The RNN's sum goes to h: the input product is read from gx until the first chunk has put it there.
                    string input = $"V.LoadUnsafe(ref gRow{r}, {(i == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(i * v)})")})";
                    string partial = l.Kind == LayerKind.Rnn
                        ? (chunked ? $"(kc == 0 ? {input} : V.LoadUnsafe({SumSlot(l, r, i, v)}))" : input)
                        : $"V.LoadUnsafe({SumSlot(l, r, i, v)})";
                    sum = $"{partial} + {sum}";
                }

                w.Line($"V.StoreUnsafe({sum}, {SumSlot(l, r, i, v)});");
            }
        }
    }

    /// <summary>
    /// The <see cref="SequenceRows"/> sequences from <c>b</c> on 8-float vectors: in one tile where its sums, weight
    /// vectors and broadcast fit in 16 vector registers (<see cref="TileRows"/>), else in smaller tiles one after the
    /// other (LSTM: 2 sequences, 8 sums and 4 weight vectors), each row with the same operations, so the same sums.
    /// </summary>
    private static void WriteSequenceTile(SourceWriter w, LayerSpec l, int hp, int v, bool chunked) =>
        WriteRegisterTile(w, l.Gates, SequenceRows, "sequences", "b", guarded: false, (rows, first) => WriteSequenceRows(w, l, hp, v, rows, chunked, first));

    /// <summary>
    /// A tile of <paramref name="rows"/> rows (sequences, inputs) of <paramref name="vectors"/> sums each, from the
    /// row index <paramref name="at"/>, written by <paramref name="write"/>(rows, first row). Where it would not fit in
    /// the 16 vector registers of a core without AVX-512 (<see cref="TileRows"/>), such a core runs it as smaller
    /// tiles one after the other, each row with the same operations, so the same sums. <paramref name="guarded"/>
    /// keeps the whole tile for cores where Vector512 is accelerated (32 registers), behind a branch the JIT folds;
    /// unguarded, the caller is such a branch already and the smaller tiles are all there is.
    /// </summary>
    private static void WriteRegisterTile(SourceWriter w, int vectors, int rows, string what, string at, bool guarded, Action<int, int> write)
    {
        int sub = TileRows(vectors, rows, Registers(w));
        if (sub == rows)
        {
            write(rows, 0);
            return;
        }

        // The ladder (Kernels128) has no Vector512 branch: where it runs, Vector512 is not accelerated either.
        guarded &= w.Target == KernelTarget.Vector256;
        if (guarded)
        {
            using (w.Block("if (V512.IsHardwareAccelerated) // AVX-512: 32 vector registers"))
            {
                write(rows, 0);
            }
        }

        using (guarded ? w.Block("else") : default(IDisposable?))
        {
            string registers = w.Target == KernelTarget.Vector128 ? "16 registers of 4 floats" : "16 vector registers";
            w.Line($"// {registers}: {Inv(rows)} {what}' {Inv(rows * vectors)} sums would go to the stack at every step of the loop; {Inv(sub)} at a time fit.");
            for (int first = 0; first < rows; first += sub)
            {
                string which = sub == 1
                    ? $"{char.ToUpperInvariant(what[0])}{what.Substring(1, what.Length - 2)} {at} + {Inv(first)}."
                    : $"{char.ToUpperInvariant(what[0])}{what.Substring(1)} {at} + {Inv(first)} to {at} + {Inv(first + sub - 1)}.";
                using (w.Block("// " + which))
                {
                    write(sub, first);
                }
            }
        }
    }

    /// <summary>The row references of a tile of <paramref name="rows"/> sequences from <c>b + first</c>: h of the step before, the gate sums, aux (GRU) or h's destination (RNN).</summary>
    private static void WriteSequenceRowRefs(SourceWriter w, LayerSpec l, int hp, int rows, int first = 0)
    {
        int row = l.Gates * hp;
        for (int r = 0; r < rows; r++)
        {
            string br = first + r == 0 ? "b" : $"(b + {Inv(first + r)})";
            w.Line($"ref float hPrev{r} = ref ({br} >= fresh ? ref Unsafe.Add(ref h00, {br} * {Inv(hp)}) : ref Unsafe.Add(ref seq0, (rowPrev + {br}) * seqStride));");
            w.Line($"ref float gRow{r} = ref Unsafe.Add(ref gx0, (row0 + {br}) * {Inv(row)});");
            if (l.Kind == LayerKind.Gru)
            {
                w.Line($"ref float auxRow{r} = ref Unsafe.Add(ref aux0, (row0 + {br}) * {Inv(hp)});");
            }
            else if (l.Kind != LayerKind.Lstm)
            {
                w.Line($"ref float hNext{r} = ref Unsafe.Add(ref seq0, (row0 + {br}) * seqStride);");
            }
        }
    }

    /// <summary>Where GRU's n sum of row <paramref name="r"/> starts: b_hn, or the partial sum of the chunks before.</summary>
    private static string GruNInit(LayerSpec l, int r, int v, bool chunked) =>
        chunked ? $"kc == 0 ? V.LoadUnsafe(ref bhn0, (nuint)j) : V.LoadUnsafe({SumSlot(l, r, 2, v)})" : "V.LoadUnsafe(ref bhn0, (nuint)j)";

    /// <summary>The loop over the rows of the block's panel of W_hh (a chunk of them, or all); its body starts with <c>wk</c>, row k.</summary>
    private static IDisposable WriteProductLoop(SourceWriter w, LayerSpec l, int v, bool chunked)
    {
        int h = l.HiddenSize;
        int p = l.Gates * v;
        w.Line($"ref float wp = ref {PanelStart("whh0", "col", h)}; // the block's panel: {Inv(h)} rows of {Inv(p)}");
        IDisposable loop = w.Block(chunked ? "for (int k = kc; k < kEnd; k++)" : $"for (int k = 0; k < {Inv(h)}; k++)");
        w.Line($"ref float wk = ref Unsafe.Add(ref wp, k * {Inv(p)});");
        return loop;
    }

    /// <summary>
    /// <see cref="WriteSequenceRows"/> on 16-float vectors, for LSTM and GRU blocks of 8 units: each 16-float vector holds
    /// two gates of the block side by side (LSTM i|f and g|o, GRU r|z; GRU's n stays an 8-float vector, the lower half of
    /// the broadcast). Lane by lane the same operations in the same order, so the same sums.
    /// </summary>
    private static void WriteSequenceRowsWide(SourceWriter w, LayerSpec l, int hp, int v, int rows, bool chunked)
    {
        bool gru = l.Kind == LayerKind.Gru;
        string[] pairs = gru ? ["arz"] : ["aif", "ago"];
        WriteSequenceRowRefs(w, l, hp, rows);
        w.Line(gru
            ? "// W_hh h for r|z from zero, added to the input products at the end; n's W_hn h + b_hn from b_hn (Step sums alike)."
            : "// W_hh h from zero, added to the input products at the end (Step sums alike, with its input products in a chain of their own).");
        for (int r = 0; r < rows; r++)
        {
            foreach (string pair in pairs)
            {
                w.Line($"var {pair}{r} = global::System.Runtime.Intrinsics.Vector512<float>.Zero;");
            }

            if (gru)
            {
                w.Line($"Vec an{r} = {GruNInit(l, r, v, chunked)};");
            }
        }

        using (WriteProductLoop(w, l, v, chunked))
        {
            for (int i = 0; i < pairs.Length; i++)
            {
                w.Line($"var wv{i} = V512.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * 2 * v))});");
            }

            if (gru)
            {
                w.Line($"Vec wvn = V.LoadUnsafe(ref wk, {Inv(2 * v)});");
            }

            for (int r = 0; r < rows; r++)
            {
                w.Line($"var hk{r} = V512.Create(Unsafe.Add(ref hPrev{r}, k));");
                for (int i = 0; i < pairs.Length; i++)
                {
                    w.Line($"{pairs[i]}{r} = V512.FusedMultiplyAdd(wv{i}, hk{r}, {pairs[i]}{r});");
                }

                if (gru)
                {
                    w.Line($"an{r} = V.FusedMultiplyAdd(wvn, V512.GetLower(hk{r}), an{r});");
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < pairs.Length; i++)
            {
                string slot = $"ref gRow{r}, {(i == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(i * 2 * v)})")}";
                w.Line($"V512.StoreUnsafe(V512.LoadUnsafe({slot}) + {pairs[i]}{r}, {slot});");
            }

            if (gru)
            {
                w.Line($"V.StoreUnsafe(an{r}, {SumSlot(l, r, 2, v)});");
            }
        }
    }

    /// <summary>
    /// The rows of step <c>t</c> and of the step before it, in a recurrence kernel's step loop: <c>t * batch</c>, or with
    /// lengths (<c>steps</c> not empty) the packed rows of <see cref="Deepbox.CompilerServices.SequenceLengths"/>.
    /// </summary>
    private static void WriteStepRows(SourceWriter w)
    {
        w.Line("// Step t's sequences are rows row0 + b. With lengths (steps not empty) the rows are packed, the batch sorted longest first:");
        w.Line("// sequences [bFirst, end) have step t, and those from fresh on start at it from the initial state (a reverse direction starts");
        w.Line("// at each sequence's last step). Without, every sequence has every step and starts at s = 0.");
        w.Line("int row0 = steps.IsEmpty ? t * batch : steps[t];");
        w.Line("int rowPrev = s == 0 ? 0 : steps.IsEmpty ? tPrev * batch : steps[tPrev];");
        w.Line("int end = steps.IsEmpty ? bEnd : global::System.Math.Clamp(steps[t + 1] - row0, bFirst, bEnd);");
        w.Line("int fresh = s == 0 ? bFirst : steps.IsEmpty ? bEnd : global::System.Math.Clamp(steps[tPrev + 1] - rowPrev, bFirst, bEnd);");
    }

    /// <summary>The step's choice between a block's update tile by tile and over the whole batch (<see cref="UpdateByTileAbove"/>).</summary>
    private static void WriteByTile(SourceWriter w, LayerSpec l, int hp)
    {
        int above = UpdateByTileAbove(l, hp);
        if (above > 0)
        {
            w.Line($"// Gate rows of {Inv(l.Gates * hp * sizeof(float) / 1024)} KB put a block's slice of every row in one or two of L1's sets: over more than {Inv(above)} rows,");
            w.Line("// each block's update goes tile by tile, right after the tile's sums, while they are still in L1.");
            w.Line($"bool byTile = end - bFirst > {Inv(above)};");
        }
    }

    /// <summary>
    /// A block's (and the pair's second block's, <paramref name="second"/>; or both blocks of a pair in one call,
    /// <paramref name="pair"/>) update over the whole batch after its products, unless it went tile by tile
    /// (<see cref="UpdateByTileAbove"/>).
    /// </summary>
    private static void WriteBlockUpdate(SourceWriter w, LayerSpec l, int hp, string? second = null, bool pair = false)
    {
        using (UpdateByTileAbove(l, hp) > 0 ? w.Block("if (!byTile)") : default(IDisposable?))
        {
            if (pair)
            {
                w.Line(UpdateCall(l, pair: true));
                return;
            }

            w.Line(UpdateCall(l));
            if (second is not null)
            {
                w.Line(UpdateCall(l, second));
            }
        }
    }

    /// <summary>The loop over the blocks of <paramref name="v"/> hidden units: each block's products for the whole batch, then its update.</summary>
    private static void WriteBlockLoop(SourceWriter w, LayerSpec l, int hp, int v, bool wide)
    {
        using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
        {
            w.Line(l.Gates == 1 ? "int col = j;" : $"int col = j * {Inv(l.Gates)}; // this block's {Inv(l.Gates)} gates start here in gx and whh rows");
            WriteBlockProducts(w, l, hp, v, wide);
            WriteBlockUpdate(w, l, hp);
        }
    }

    /// <summary>
    /// One block's products for sequences bFirst to end (the block at <c>j</c>, its gates at <c>col</c>): the tiles of
    /// <see cref="SequenceRows"/> sequences (on 16-float vectors where <paramref name="wide"/> and Vector512 is
    /// accelerated; only those when <paramref name="v512"/> says the code is in such a branch already), then the
    /// sequences left one at a time; over h in chunks where W_hh's block is too large for L1.
    /// </summary>
    private static void WriteBlockProducts(SourceWriter w, LayerSpec l, int hp, int v, bool wide, bool v512 = false)
    {
        bool chunked = SequenceChunk(l.HiddenSize) < l.HiddenSize;
        Action<string, string>? tileDone = UpdateByTileAbove(l, hp) > 0 ? (from, to) => w.Line(UpdateCall(l, "j", from, to)) : null;
        WriteChunkedRows(w, l, v, tileDone: tileDone, rows: rows =>
        {
            if (rows == 1)
            {
                WriteSequenceRows(w, l, hp, v, 1, chunked);
            }
            else if (wide && v512)
            {
                w.Line("// Two gates' 8-float vectors side by side are one 16-float vector, the same bits.");
                WriteSequenceRowsWide(w, l, hp, v, rows, chunked);
            }
            else if (wide)
            {
                w.Line($"// Two gates' 8-float vectors side by side are one 16-float vector: where Vector512 is accelerated the tile");
                w.Line("// runs on those (half the instructions; on a core with full-width 512-bit FMA units, twice the FMAs), the same bits.");
                using (w.Block("if (V512.IsHardwareAccelerated)"))
                {
                    WriteSequenceRowsWide(w, l, hp, v, rows, chunked);
                }

                using (w.Block("else"))
                {
                    WriteSequenceTile(w, l, hp, v, chunked);
                }
            }
            else
            {
                WriteSequenceTile(w, l, hp, v, chunked);
            }
        });
    }

    /// <summary>
    /// A block's (or a pair of blocks') products for sequences bFirst to end, over h in chunks where W_hh's block is too
    /// large for L1: <paramref name="rows"/>(<see cref="SequenceRows"/>) writes a whole tile from row <c>b</c>, then
    /// <paramref name="rows"/>(1) each sequence left.
    /// </summary>
    private static void WriteChunkedRows(SourceWriter w, LayerSpec l, int v, Action<int> rows, Action<string, string>? tileDone = null)
    {
        int h = l.HiddenSize;
        int chunk = SequenceChunk(h);
        // After a tile's last chunk: its update, where the block's update goes tile by tile (UpdateByTileAbove).
        void Done(string from, string to)
        {
            if (tileDone is not null)
            {
                using (w.Block(chunk < h ? $"if (byTile && kEnd == {Inv(h)})" : "if (byTile)"))
                {
                    tileDone(from, to);
                }
            }
        }

        if (chunk < h)
        {
            w.Line($"// h in chunks of {Inv(chunk)}: a chunk of the block's weights ({Inv(chunk * l.Gates * v * 4 / 1024)} KB) stays in L1 across the batch, and the");
            w.Line("// chunk's sums are added to the partial sums waiting in memory.");
        }

        using (chunk < h ? w.Block($"for (int kc = 0; kc < {Inv(h)}; kc += {Inv(chunk)})") : default(IDisposable?))
        {
            if (chunk < h)
            {
                w.Line($"int kEnd = global::System.Math.Min(kc + {Inv(chunk)}, {Inv(h)});");
            }

            using (w.Block($"for (int b = bFirst; b + {Inv(SequenceRows)} <= end; b += {Inv(SequenceRows)})"))
            {
                rows(SequenceRows);
                Done("b", $"b + {Inv(SequenceRows)}");
            }

            using (w.Block($"for (int b = end - ((end - bFirst) % {Inv(SequenceRows)}); b < end; b++)"))
            {
                rows(1);
                Done("b", "b + 1");
            }
        }
    }

    /// <summary>
    /// LSTM and GRU where Vector512 is accelerated: two blocks of 8 units at a time. LSTM: each block's i|f and g|o are
    /// two 16-float vectors, so a tile of <see cref="SequenceRows"/> sequences holds 16 sums instead of 8 (8 only just cover
    /// the latency of two full-rate 512-bit FMA units) and each broadcast of h serves 4 multiply-adds (W1 on one thread 652
    /// to 603 µs on an AMD EPYC family 26 model 2, Zen 5, FMA peak 211-229 GFLOP/s). GRU: a block's three gates are 24 floats, one
    /// 16-float and one 8-float vector, and a tile that mixes the two widths ran W4's recurrence at 82% of the FMA peak
    /// of an AMD Zen 4 core (EPYC family 25 model 17, FMA peak 117 GFLOP/s; where an 8-float multiply-add costs half a 16-float one; on a core with full-rate 512-bit
    /// units it costs as much); two blocks' gates are 48 floats, three 16-float vectors (r|z of each block, and n of
    /// both: the two 8-float n rows of the blocks' panels in one vector), 89-93% of the peak (docs/benchmarks.md,
    /// session 11). Lane by lane the same operations in the same order, so the same sums. With an odd number of blocks
    /// the last one runs alone, as on 8-float vectors.
    /// </summary>
    private static void WriteBlockPairs(SourceWriter w, LayerSpec l, int hp, int v)
    {
        bool gru = l.Kind == LayerKind.Gru;
        int g = l.Gates;
        bool chunked = SequenceChunk(l.HiddenSize) < l.HiddenSize;
        using (w.Block("if (V512.IsHardwareAccelerated)"))
        {
            if (gru)
            {
                w.Line("// Two blocks at a time: their gates are three 16-float vectors, r|z of each block and n of both, so no multiply-add");
                w.Line("// of the tile is 8 floats wide (W4 on an AMD EPYC family 25 model 17, Zen 4, FMA peak 117 GFLOP/s: one block at a time");
                w.Line("// ran at 82% of that peak, two at 89-93%).");
            }
            else
            {
                w.Line("// Two blocks at a time: a tile's 16 sums keep both multiply-add units of a core with full-rate 512-bit units busy");
                w.Line("// (8 sums, one block, are only as many as the units' latency needs), and each broadcast of h serves 4 multiply-adds.");
            }

            using (w.Block($"for (int j = 0; j + {Inv(2 * v)} <= {Inv(hp)}; j += {Inv(2 * v)})"))
            {
                w.Line($"int col = j * {Inv(g)}; // the first block's {Inv(g)} gates start here in gx and whh rows, the second block's {Inv(g * v)} further");
                Action<string, string>? tileDone = UpdateByTileAbove(l, hp) > 0
                    ? (from, to) =>
                    {
                        if (HasPairUpdate(l, hp, v))
                        {
                            w.Line(UpdateCall(l, "j", from, to, pair: true));
                        }
                        else
                        {
                            w.Line(UpdateCall(l, "j", from, to));
                            w.Line(UpdateCall(l, $"j + {Inv(v)}", from, to));
                        }
                    }
                    : null;
                WriteChunkedRows(w, l, v, tileDone: tileDone, rows: rows =>
                {
                    if (gru)
                    {
                        WriteGruRowsPair(w, l, hp, v, rows, chunked);
                    }
                    else
                    {
                        WriteLstmRowsPair(w, l, hp, v, rows, chunked);
                    }
                });
                WriteBlockUpdate(w, l, hp, $"j + {Inv(v)}", pair: HasPairUpdate(l, hp, v));
            }

            if (hp / v % 2 == 1)
            {
                using (w.Block($"// The last of the {Inv(hp / v)} blocks alone{(gru ? ", its n on 8 floats" : string.Empty)}."))
                {
                    w.Line($"const int j = {Inv(hp - v)};");
                    w.Line($"const int col = j * {Inv(g)};");
                    WriteBlockProducts(w, l, hp, v, wide: true, v512: true);
                    WriteBlockUpdate(w, l, hp);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="WriteBlockPairs"/>'s GRU tile of <paramref name="rows"/> sequences from <c>b</c>: r|z of the block at
    /// <c>j</c>, r|z of the block at <c>j + 8</c>, and n of both, in three 16-float sums per sequence.
    /// </summary>
    private static void WriteGruRowsPair(SourceWriter w, LayerSpec l, int hp, int v, int rows, bool chunked)
    {
        int h = l.HiddenSize;
        int p = 3 * v;
        WriteSequenceRowRefs(w, l, hp, rows);
        w.Line("// W_hh h for r|z from zero, added to the input products at the end; n's W_hn h + b_hn from b_hn (Step sums alike).");
        for (int r = 0; r < rows; r++)
        {
            w.Line($"var arz{r} = global::System.Runtime.Intrinsics.Vector512<float>.Zero;{(r == 0 ? " // the first block's r|z" : string.Empty)}");
            w.Line($"var brz{r} = global::System.Runtime.Intrinsics.Vector512<float>.Zero;{(r == 0 ? " // the second block's r|z" : string.Empty)}");
            string bhn = "V512.LoadUnsafe(ref bhn0, (nuint)j)";
            w.Line($"var an{r} = {(chunked ? $"kc == 0 ? {bhn} : V512.LoadUnsafe(ref auxRow{r}, (nuint)j)" : bhn)};{(r == 0 ? " // both blocks' n" : string.Empty)}");
        }

        w.Line($"ref float wpa = ref {PanelStart("whh0", "col", h)}; // the first block's panel: {Inv(h)} rows of {Inv(p)}");
        w.Line($"ref float wpb = ref {PanelStart("whh0", $"(col + {Inv(p)})", h)}; // the second block's");
        using (w.Block(chunked ? "for (int k = kc; k < kEnd; k++)" : $"for (int k = 0; k < {Inv(h)}; k++)"))
        {
            w.Line($"ref float wka = ref Unsafe.Add(ref wpa, k * {Inv(p)});");
            w.Line($"ref float wkb = ref Unsafe.Add(ref wpb, k * {Inv(p)});");
            w.Line("var wva = V512.LoadUnsafe(ref wka);");
            w.Line("var wvb = V512.LoadUnsafe(ref wkb);");
            w.Line($"var wvn = V512.WithUpper(V.ToVector512Unsafe(V.LoadUnsafe(ref wka, {Inv(2 * v)})), V.LoadUnsafe(ref wkb, {Inv(2 * v)}));");
            for (int r = 0; r < rows; r++)
            {
                w.Line($"var hk{r} = V512.Create(Unsafe.Add(ref hPrev{r}, k));");
                w.Line($"arz{r} = V512.FusedMultiplyAdd(wva, hk{r}, arz{r});");
                w.Line($"brz{r} = V512.FusedMultiplyAdd(wvb, hk{r}, brz{r});");
                w.Line($"an{r} = V512.FusedMultiplyAdd(wvn, hk{r}, an{r});");
            }
        }

        for (int r = 0; r < rows; r++)
        {
            w.Line($"V512.StoreUnsafe(V512.LoadUnsafe(ref gRow{r}, (nuint)col) + arz{r}, ref gRow{r}, (nuint)col);");
            w.Line($"V512.StoreUnsafe(V512.LoadUnsafe(ref gRow{r}, (nuint)(col + {Inv(p)})) + brz{r}, ref gRow{r}, (nuint)(col + {Inv(p)}));");
            w.Line($"V512.StoreUnsafe(an{r}, ref auxRow{r}, (nuint)j);");
        }
    }

    /// <summary>
    /// <see cref="WriteBlockPairs"/>'s LSTM tile of <paramref name="rows"/> sequences from <c>b</c>: i|f and g|o of the
    /// block at <c>j</c> and of the block at <c>j + 8</c>, four 16-float sums per sequence.
    /// </summary>
    private static void WriteLstmRowsPair(SourceWriter w, LayerSpec l, int hp, int v, int rows, bool chunked)
    {
        int h = l.HiddenSize;
        int p = 4 * v;
        string[] sums = ["aif", "ago", "bif", "bgo"];
        WriteSequenceRowRefs(w, l, hp, rows);
        w.Line("// W_hh h from zero, added to the input products at the end (Step sums alike, with its input products in a chain of their own).");
        for (int r = 0; r < rows; r++)
        {
            foreach (string sum in sums)
            {
                w.Line($"var {sum}{r} = global::System.Runtime.Intrinsics.Vector512<float>.Zero;{(r == 0 && sum[1] == 'i' ? (sum[0] == 'a' ? " // the first block's i|f" : " // the second block's i|f") : string.Empty)}");
            }
        }

        w.Line($"ref float wpa = ref {PanelStart("whh0", "col", h)}; // the first block's panel: {Inv(h)} rows of {Inv(p)}");
        w.Line($"ref float wpb = ref {PanelStart("whh0", $"(col + {Inv(p)})", h)}; // the second block's");
        using (w.Block(chunked ? "for (int k = kc; k < kEnd; k++)" : $"for (int k = 0; k < {Inv(h)}; k++)"))
        {
            w.Line($"ref float wka = ref Unsafe.Add(ref wpa, k * {Inv(p)});");
            w.Line($"ref float wkb = ref Unsafe.Add(ref wpb, k * {Inv(p)});");
            w.Line("var wv0 = V512.LoadUnsafe(ref wka);");
            w.Line($"var wv1 = V512.LoadUnsafe(ref wka, {Inv(2 * v)});");
            w.Line("var wv2 = V512.LoadUnsafe(ref wkb);");
            w.Line($"var wv3 = V512.LoadUnsafe(ref wkb, {Inv(2 * v)});");
            for (int r = 0; r < rows; r++)
            {
                w.Line($"var hk{r} = V512.Create(Unsafe.Add(ref hPrev{r}, k));");
                for (int i = 0; i < sums.Length; i++)
                {
                    w.Line($"{sums[i]}{r} = V512.FusedMultiplyAdd(wv{i}, hk{r}, {sums[i]}{r});");
                }
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < sums.Length; i++)
            {
                int offset = (i / 2) * p + (i % 2) * 2 * v;
                string slot = $"ref gRow{r}, {(offset == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(offset)})")}";
                w.Line($"V512.StoreUnsafe(V512.LoadUnsafe({slot}) + {sums[i]}{r}, {slot});");
            }
        }
    }

    /// <summary>The recurrence of one layer and direction over a whole sequence, the gates fused in one pass over <c>W_hh</c>.</summary>
    private static void WriteSequence(SourceWriter w, VectorIsa isa, LayerSpec l, int hp)
    {
        int v = isa.Width;
        int h = l.HiddenSize;
        int g = l.Gates;
        int row = g * hp;
        bool gru = l.Kind == LayerKind.Gru;
        bool lstm = l.Kind == LayerKind.Lstm;
        w.Line("/// <summary>");
        switch (l.Kind)
        {
            case LayerKind.Lstm:
                w.Line("/// LSTM recurrence (PyTorch's nn.LSTM), for every step t of the sequence:");
                w.Line("///   i = sigmoid(W_ii x_t + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x_t + b_if + W_hf h + b_hf)");
                w.Line("///   g = tanh(W_ig x_t + b_ig + W_hg h + b_hg)        o = sigmoid(W_io x_t + b_io + W_ho h + b_ho)");
                w.Line("///   c' = f * c + i * g                               h' = o * tanh(c')");
                break;
            case LayerKind.Gru:
                w.Line("/// GRU recurrence (PyTorch's nn.GRU), for every step t of the sequence:");
                w.Line("///   r = sigmoid(W_ir x_t + b_ir + W_hr h + b_hr)     z = sigmoid(W_iz x_t + b_iz + W_hz h + b_hz)");
                w.Line("///   n = tanh(W_in x_t + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h = n + z * (h - n)");
                break;
            default:
                w.Line($"/// Elman RNN recurrence (PyTorch's nn.RNN, nonlinearity '{(l.Relu ? "relu" : "tanh")}'), for every step t of the sequence:");
                w.Line($"///   h' = {(l.Relu ? "relu" : "tanh")}(W_ih x_t + b_ih + W_hh h + b_hh)");
                break;
        }

        w.Line($"/// gx holds the input products (W_i* x_t plus the foldable biases) of every step, [T, B, {Inv(row)}]; whh is W_hh");
        w.Line($"/// [{Inv(h)}][{Inv(row)}] in vector panels, with the {Inv(g)} gate{(g == 1 ? string.Empty : "s")} of each block of {Inv(v)} hidden units side by side, so one pass");
        w.Line($"/// over h computes every gate of a block{(gru && v == VectorIsa.V256.Width && w.Target == KernelTarget.Vector256 && hp >= 2 * v ? " (two blocks at a time where Vector512 is accelerated)" : string.Empty)}. Hidden size {Inv(h)} runs as {Inv(hp / v)} block{(hp / v == 1 ? string.Empty : "s")} of {Inv(v)}{(h == hp ? string.Empty : $" (the last one padded: {Inv(hp - h)} lanes of zero weights, never read back)")}.");
        w.Line("/// Steps sFirst to sEnd (of seqLen, counted in the direction of the recurrence) only: the forward pass computes the input");
        w.Line("/// products a few steps ahead, while they are still in cache. Sequences bFirst to bEnd (of batch) only: other threads can");
        w.Line("/// run the others at the same time.");
        w.Line("/// steps: empty, or with lengths the first row of each step (SequenceLengths.Steps): the rows are then packed, the batch sorted");
        w.Line("/// longest first, and a sequence's steps past its length are neither computed nor written.");
        w.Line($"/// Row (t, b) of seq (stride seqStride) receives h at t; h0{(lstm ? " and c0" : string.Empty)} hold{(lstm ? string.Empty : "s")} one row of {Inv(hp)} per sequence{(lstm ? "; aux receives c at every step" : gru ? "; aux receives W_hn h + b_hn at every step" : string.Empty)}.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        string ro = "global::System.ReadOnlySpan<float>";
        string rw = "global::System.Span<float>";
        string args = $"{rw} gx, {ro} whh, " + (gru ? $"{ro} bhn, " : string.Empty) + $"{ro} h0, " + (lstm ? $"{ro} c0, " : string.Empty) + (lstm || gru ? $"{rw} aux, " : string.Empty) + $"{rw} seq, int seqStride, int batch, int seqLen, bool reverse, int sFirst, int sEnd, int bFirst, int bEnd, global::System.ReadOnlySpan<int> steps";
        using (KernelMethod(w, SequenceName(l, h), args))
        {
            w.Line("ref float gx0 = ref MemoryMarshal.GetReference(gx);");
            w.Line("ref float whh0 = ref MemoryMarshal.GetReference(whh);");
            if (gru)
            {
                w.Line("ref float bhn0 = ref MemoryMarshal.GetReference(bhn);");
            }

            w.Line("ref float h00 = ref MemoryMarshal.GetReference(h0);");
            if (lstm)
            {
                w.Line("ref float c00 = ref MemoryMarshal.GetReference(c0);");
            }

            if (lstm || gru)
            {
                w.Line("ref float aux0 = ref MemoryMarshal.GetReference(aux);");
            }

            w.Line("ref float seq0 = ref MemoryMarshal.GetReference(seq);");
            using (w.Block("for (int s = sFirst; s < sEnd; s++)"))
            {
                w.Line("int t = reverse ? seqLen - 1 - s : s;");
                w.Line("int tPrev = reverse ? t + 1 : t - 1;");
                WriteStepRows(w);
                WriteByTile(w, l, hp);
                w.Line($"// Block by block of {Inv(v)} hidden units, so the block's slice of W_hh stays in cache across the batch;");
                w.Line($"// {Inv(SequenceRows)} sequences at a time share each load of it, then one at a time.");
                bool wide = l.Kind != LayerKind.Rnn && v == VectorIsa.V256.Width && w.Target == KernelTarget.Vector256;
                if (wide && hp >= 2 * v)
                {
                    WriteBlockPairs(w, l, hp, v);

                    using (w.Block("else"))
                    {
                        WriteBlockLoop(w, l, hp, v, wide: false);
                    }
                }
                else
                {
                    WriteBlockLoop(w, l, hp, v, wide);
                }
            }
        }
    }
}
