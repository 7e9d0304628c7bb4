using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using CsCheck;
using RecurrentLayers;
using Xunit;
using Xunit.Abstractions;

namespace Deepbox.Tests;

/// <summary>
/// The safetensors reader and writer: round trips, the reference library's exact bytes, dtype conversions, one test
/// per rejection rule (through both <see cref="Safetensors.Parse"/> and <see cref="Safetensors.Load"/>), and a fuzz
/// test of mutated valid files.
/// </summary>
public sealed class SafetensorsTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _dir;

    public SafetensorsTests(ITestOutputHelper output)
    {
        _output = output;
        _dir = Path.Combine(Path.GetTempPath(), "deepbox-safetensors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---------------------------------------------------------------- round trips and the reference's bytes

    [Fact]
    public void SerializeThenParseRoundTripsValuesOrderAndMetadata()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["z.weight"] = Tensor.FromArray([1.5f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon], 2, 3),
            ["a.bias"] = Tensor.FromArray([float.MaxValue, float.MinValue, 1e-40f], 3),
            ["scalar"] = Tensor.FromArray([42f]),
            ["empty"] = Tensor.Zeros(0, 3),
            ["m"] = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => i * 0.25f).ToArray(), 2, 3, 4),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é \"quoted\"\n" };

        SafetensorsFile file = Safetensors.Parse(Safetensors.Serialize(tensors, metadata));

        AssertSameTensors(tensors, file.Tensors);
        Assert.Equal(metadata.ToList(), file.Metadata.ToList());
    }

    [Fact]
    public void SaveThenLoadRoundTripsAndReplacesTheFile()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var first = new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray([1f, 2, 3, 4], 2, 2) };
        var second = new Dictionary<string, Tensor> { ["b"] = Tensor.FromArray([5f, 6], 2), ["w"] = Tensor.FromArray([7f], 1) };

        Safetensors.Save(path, first);
        AssertSameTensors(first, Safetensors.Load(path).Tensors);
        Assert.Empty(Safetensors.Load(path).Metadata);

        Safetensors.Save(path, second, new Dictionary<string, string> { ["k"] = "v" });
        SafetensorsFile loaded = Safetensors.Load(path);
        AssertSameTensors(second, loaded.Tensors);
        Assert.Equal("v", loaded.Metadata["k"]);
        Assert.Equal(Safetensors.Serialize(second, new Dictionary<string, string> { ["k"] = "v" }), File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void AFailedSaveLeavesNoPartialFile()
    {
        string path = Path.Combine(_dir, "keep.safetensors");
        var good = new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray([1f, 2], 2) };
        Safetensors.Save(path, good);
        byte[] before = File.ReadAllBytes(path);

        // Rejected arguments: nothing is written.
        var reserved = new Dictionary<string, Tensor> { ["__metadata__"] = Tensor.Zeros(1) };
        Assert.Throws<ArgumentException>(() => Safetensors.Save(path, reserved));
        Assert.Equal(before, File.ReadAllBytes(path));

        // The final move fails (the target is a directory): the temporary file is removed.
        string directoryTarget = Path.Combine(_dir, "a-directory");
        Directory.CreateDirectory(directoryTarget);
        Assert.ThrowsAny<IOException>(() => Safetensors.Save(directoryTarget, good));
        Assert.Equal(["keep.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal(before, File.ReadAllBytes(path));

        // A directory that does not exist.
        Assert.ThrowsAny<IOException>(() => Safetensors.Save(Path.Combine(_dir, "missing", "x.safetensors"), good));
        Assert.Equal(["keep.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void WritesTheReferenceLibrarysBytes()
    {
        // safetensors.torch.save_file({"attn.0": torch.arange(6.).reshape(1, 2, 3)}): the reference's own test vector
        // (safetensors/src/tensor.rs, test_serialization). The header is 64 bytes, so no padding.
        byte[] expected =
        [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ];
        var attn = new Dictionary<string, Tensor> { ["attn.0"] = Tensor.FromArray([0f, 1, 2, 3, 4, 5], 1, 2, 3) };
        Assert.Equal(expected, Safetensors.Serialize(attn));

        // The same with "attn0" and shape [1, 1, 2, 3]: 65 bytes of JSON padded with 7 spaces to 72.
        var attn0 = new Dictionary<string, Tensor> { ["attn0"] = Tensor.FromArray([0f, 1, 2, 3, 4, 5], 1, 1, 2, 3) };
        Assert.Equal(
            FileOf("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}" + "       ", F32(0, 1, 2, 3, 4, 5)),
            Safetensors.Serialize(attn0));

        // No tensors: "{}" and 6 spaces; with metadata, "__metadata__" comes first.
        Assert.Equal(FileOf("{}      "), Safetensors.Serialize(new Dictionary<string, Tensor>()));
        Assert.Equal(
            FileOf("{\"__metadata__\":{\"framework\":\"pt\"}}     "),
            Safetensors.Serialize(new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["framework"] = "pt" }));

        // Two tensors in ordinal name order (the reference's order for float32), a scalar, an empty tensor, metadata.
        var two = new Dictionary<string, Tensor>
        {
            ["fc.bias"] = Tensor.FromArray([0.5f, -1], 2),
            ["fc.weight"] = Tensor.FromArray([1f, 2, 3, 4], 2, 2),
            ["step"] = Tensor.FromArray([7f]),
            ["z"] = Tensor.Zeros(0),
        };
        const string Json =
            "{\"__metadata__\":{\"format\":\"pt\"}," +
            "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
            "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}," +
            "\"step\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]}," +
            "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[28,28]}}";
        Assert.Equal(267, Json.Length);
        Assert.Equal(
            FileOf(Json + new string(' ', 5), F32(0.5f, -1), F32(1, 2, 3, 4), F32(7)),
            Safetensors.Serialize(two, new Dictionary<string, string> { ["format"] = "pt" }));
    }

    [Fact]
    public void EscapesStringsAsTheReferenceDoes()
    {
        // serde_json escapes '"', '\\', the short forms \b \f \n \r \t, other controls as \u00xx; nothing else.
        string name = "a\"b\\c\nd\te\u0001\u001f\u007f/é😀";
        var tensors = new Dictionary<string, Tensor> { [name] = Tensor.FromArray([1f]) };
        string json = "{\"__metadata__\":{\"k\\r\":\"\\b\\f\"},\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f\u007f/é😀\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
        int length = Encoding.UTF8.GetByteCount(json);
        byte[] bytes = Safetensors.Serialize(tensors, new Dictionary<string, string> { ["k\r"] = "\b\f" });
        Assert.Equal(FileOf(json + new string(' ', ((length + 7) / 8 * 8) - length), F32(1)), bytes);

        SafetensorsFile file = Safetensors.Parse(bytes);
        Assert.Equal([name], file.Tensors.Keys);
        Assert.Equal("\b\f", file.Metadata["k\r"]);
    }

    [Fact]
    public void ReadsTheLayoutsOtherWritersProduce()
    {
        // Header order differs from data order, whitespace and newlines, padding, zero-size tensors sharing an
        // offset, "-0" (which the reference reads as 0), and an empty metadata object.
        string json = "{\n  \"b\": {\"data_offsets\": [8, 12], \"shape\": [1], \"dtype\": \"F32\"},\n" +
                      "  \"__metadata__\": {},\n" +
                      "  \"e1\": {\"dtype\": \"F16\", \"shape\": [0, 5], \"data_offsets\": [8, 8]},\n" +
                      "  \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-0, 8]},\n" +
                      "  \"e0\": {\"dtype\": \"F64\", \"shape\": [3, 0], \"data_offsets\": [0, 0]}\n}\t\r\n   ";
        SafetensorsFile file = Safetensors.Parse(FileOf(json, F32(1, 2), F32(3)));
        Assert.Equal(["b", "e1", "a", "e0"], file.Tensors.Keys);
        Assert.Equal([3f], file.Tensors["b"].ToArray());
        Assert.Equal([1f, 2], file.Tensors["a"].ToArray());
        Assert.Equal([0, 5], file.Tensors["e1"].Shape);
        Assert.Equal([3, 0], file.Tensors["e0"].Shape);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void ConvertsF16BF16AndF64ToFloat32()
    {
        ushort[] f16 = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xC000, 0x3555, 0x7BFF, 0x7C00, 0xFC00, 0x7E00];
        float[] f16Expected =
        [
            0f, -0f, MathF.Pow(2, -24), 1023 * MathF.Pow(2, -24), MathF.Pow(2, -14), 1f, -2f, 0.333251953125f, 65504f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN,
        ];
        ushort[] bf16 = [0x0000, 0x8000, 0x0001, 0x3F80, 0xC040, 0x4049, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0];
        float[] bf16Expected =
        [
            0f, -0f, BitConverter.Int32BitsToSingle(0x00010000), 1f, -3f, 3.140625f, BitConverter.Int32BitsToSingle(0x7F7F0000),
            float.PositiveInfinity, float.NegativeInfinity, float.NaN,
        ];
        double[] f64 = [0.0, -0.0, 1.0 / 3, -2.5, 1e300, -1e300, double.Epsilon, 1e-40, double.PositiveInfinity, double.NaN];
        float[] f64Expected =
        [
            0f, -0f, (float)(1.0 / 3), -2.5f, float.PositiveInfinity, float.NegativeInfinity, 0f, (float)1e-40, float.PositiveInfinity, float.NaN,
        ];

        string json =
            $"{{\"h\":{{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,24]}}," +
            $"\"bf\":{{\"dtype\":\"BF16\",\"shape\":[10],\"data_offsets\":[24,44]}}," +
            $"\"d\":{{\"dtype\":\"F64\",\"shape\":[2,5],\"data_offsets\":[44,124]}}}}";
        byte[] data = [.. U16(f16), .. U16(bf16), .. F64(f64)];
        byte[] bytes = FileOf(json, data);
        foreach (SafetensorsFile file in new[] { Safetensors.Parse(bytes), LoadBytes(bytes) })
        {
            AssertBits(f16Expected, file.Tensors["h"]);
            Assert.Equal([3, 4], file.Tensors["h"].Shape);
            AssertBits(bf16Expected, file.Tensors["bf"]);
            AssertBits(f64Expected, file.Tensors["d"]);
            Assert.Equal([2, 5], file.Tensors["d"].Shape);
        }

        // Every F16 and BF16 bit pattern converts as Half and "the top half of a float32" do.
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        string every = "{\"h\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]},\"b\":{\"dtype\":\"BF16\",\"shape\":[65536],\"data_offsets\":[131072,262144]}}";
        SafetensorsFile big = Safetensors.Parse(FileOf(every, U16(all), U16(all)));
        for (int i = 0; i < 65536; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)i)), BitConverter.SingleToInt32Bits(big.Tensors["h"].AsSpan()[i]));
            Assert.Equal(i << 16, BitConverter.SingleToInt32Bits(big.Tensors["b"].AsSpan()[i]));
        }
    }

    [Fact]
    public void LoadsLargeTensorsInChunksAsParseDoes()
    {
        // Several 1 MB read chunks per tensor, for every dtype.
        var rng = new Random(5);
        int n = 700_000;
        byte[] f32 = new byte[n * 4];
        byte[] f16 = new byte[n * 2];
        byte[] f64 = F64(Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray());
        rng.NextBytes(f32);
        rng.NextBytes(f16);
        string json = $"{{\"a\":{{\"dtype\":\"F32\",\"shape\":[{n}],\"data_offsets\":[0,{n * 4}]}},\"b\":{{\"dtype\":\"F16\",\"shape\":[{n}],\"data_offsets\":[{n * 4},{n * 6}]}},\"c\":{{\"dtype\":\"F64\",\"shape\":[{n}],\"data_offsets\":[{n * 6},{n * 14}]}}}}";
        byte[] bytes = FileOf(json, f32, f16, f64);
        SafetensorsFile parsed = Safetensors.Parse(bytes);
        SafetensorsFile loaded = LoadBytes(bytes);
        foreach (string name in new[] { "a", "b", "c" })
        {
            Assert.True(parsed.Tensors[name].AsSpan().SequenceEqual(loaded.Tensors[name].AsSpan()), name);
        }

        Assert.Equal(BinaryPrimitives.ReadSingleLittleEndian(f32.AsSpan(4 * (n - 1))), parsed.Tensors["a"][n - 1]);
    }

    [Fact]
    public void AModelSavedAndLoadedComputesTheSame()
    {
        var source = new SeedLstm(1);
        var target = new SeedLstm(2);
        string path = Path.Combine(_dir, "lstm.safetensors");
        Safetensors.Save(path, source.StateDict(), new Dictionary<string, string> { ["format"] = "pt" });

        SafetensorsFile file = Safetensors.Load(path);
        Assert.Equal(source.StateDict().Keys, file.Tensors.Keys);
        target.LoadStateDict(file.Tensors);

        Tensor x = Tensor.FromArray(TestSupport.RandomArray(new Random(3), 2 * 5 * 4), 2, 5, 4);
        Assert.Equal(source.Forward(x).ToArray(), target.Forward(x).ToArray());
    }

    [Fact]
    public void WriterRejectsWhatItCannotWrite()
    {
        Assert.Throws<ArgumentNullException>(() => Safetensors.Serialize(null!));
        ArgumentException e = Assert.Throws<ArgumentException>(() => Safetensors.Serialize(new Dictionary<string, Tensor> { ["__metadata__"] = Tensor.Zeros(1) }));
        Assert.Contains("reserved", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Safetensors.Serialize(new Dictionary<string, Tensor> { ["w"] = null! }));
        Assert.Contains("'w' is null", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Safetensors.Serialize(new Dictionary<string, Tensor> { ["a\ud800"] = Tensor.Zeros(1) }));
        Assert.Contains("unpaired surrogate at index 1", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Safetensors.Serialize(new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["k"] = null! }));
        Assert.Contains("key 'k' is null", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Safetensors.Save("", new Dictionary<string, Tensor>()));
    }

    // ---------------------------------------------------------------- one test per rejection rule

    [Fact]
    public void RejectsAFileShorterThanEightBytes()
    {
        for (int n = 0; n < 8; n++)
        {
            AssertRejects(new byte[n], $"The file is {n} bytes long, shorter than the 8-byte header length");
        }
    }

    [Fact]
    public void RejectsAHeaderLengthOverOneHundredMegabytes()
    {
        foreach (ulong n in new[] { 100_000_001UL, 1UL << 31, 1UL << 32, 1UL << 63, ulong.MaxValue })
        {
            AssertRejects(WithLength(FileOf("{}      "), n), $"The header length at byte 0 is {n} bytes, over the limit of 100000000 bytes");
        }
    }

    [Fact]
    public void RejectsAHeaderLengthPastTheEndOfTheFile()
    {
        byte[] valid = FileOf("{}      ");
        AssertRejects(WithLength(valid, 9), "The header length at byte 0 is 9 bytes, past the end of the file: only 8 bytes follow");
        AssertRejects(WithLength(valid, 100_000_000), "is 100000000 bytes, past the end of the file");
        AssertRejects(WithLength(new byte[8], 1), "only 0 bytes follow");
    }

    [Fact]
    public void RejectsAHeaderThatIsNotUtf8()
    {
        byte[] file = FileOf("{\"ab\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", F32(1));
        file[8 + 3] = 0xFF;
        AssertRejects(file, "The header is not valid UTF-8: the byte sequence at byte 11 is not UTF-8");

        // An overlong encoding of '/', and an escaped lone surrogate (no UTF-8 form).
        file[8 + 2] = 0xC0;
        file[8 + 3] = 0xAF;
        AssertRejects(file, "not valid UTF-8", "at byte 10");
        AssertRejects(FileOf("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", F32(1)), "string that is not valid text near byte 9");
    }

    [Fact]
    public void RejectsAHeaderThatIsNotJson()
    {
        const string Entry = "{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}";
        AssertRejects(FileOf("{\"a\":" + Entry + ",}", F32(1)), "The header is not valid JSON");
        AssertRejects(FileOf("{\"a\":" + Entry, F32(1)), "The header is not valid JSON");
        AssertRejects(FileOf("{\"a\":" + Entry + "} x", F32(1)), "The header is not valid JSON", "'x' is invalid after a single JSON value");
        AssertRejects(FileOf("{\"a\":" + Entry + "}\0\0\0", F32(1)), "The header is not valid JSON", "'0x00'");
        AssertRejects(FileOf("{/* c */}"), "The header is not valid JSON");
        AssertRejects(FileOf("{'a':1}"), "The header is not valid JSON");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", F32(1)), "The header is not valid JSON");
    }

    [Fact]
    public void RejectsAHeaderThatIsNotAnObject()
    {
        AssertRejects(FileOf("[]      "), "The header is not a JSON object: it must start with '{' at byte 8, found '['");
        AssertRejects(FileOf("\"x\""), "not a JSON object", "found '\"'");
        AssertRejects(FileOf("  {}"), "not a JSON object", "found ' '");
        AssertRejects(FileOf("\uFEFF{}"), "not a JSON object", "found byte 0xEF");
        AssertRejects(FileOf(""), "not a JSON object", "found an empty header");
    }

    [Fact]
    public void RejectsDuplicateKeys()
    {
        const string Entry = "{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}";
        AssertRejects(FileOf("{\"a\":" + Entry + ",\"a\":" + Entry + "}", F32(1), F32(2)), "The header names tensor 'a' twice; the second is at byte 61");
        AssertRejects(FileOf("{\"a\":" + Entry + ",\"\\u0061\":" + Entry + "}", F32(1), F32(2)), "names tensor 'a' twice");
        AssertRejects(FileOf("{\"__metadata__\":{},\"__metadata__\":{}}"), "The header has a second \"__metadata__\" entry at byte 27");
        AssertRejects(FileOf("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), "The metadata has key 'k' twice; the second is at byte 33");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': field \"dtype\" appears twice; the second is at byte 39");
    }

    [Fact]
    public void RejectsUnknownAndUnsupportedDtypesByName()
    {
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F33\",\"shape\":[],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': unknown dtype 'F33' at byte 22; Deepbox reads F32, F16, BF16 and F64");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"f32\",\"shape\":[],\"data_offsets\":[0,4]}}", F32(1)), "unknown dtype 'f32'");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': unsupported dtype 'I32'");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", [1]), "unsupported dtype 'BOOL'");
    }

    [Fact]
    public void RejectsMissingFields()
    {
        AssertRejects(FileOf("{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': its entry at byte 9 has no \"dtype\" field");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': its entry at byte 9 has no \"shape\" field");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", F32(1)), "Tensor 'a': its entry at byte 9 has no \"data_offsets\" field");
        AssertRejects(FileOf("{\"a\":{}}"), "has no \"dtype\" field");
    }

    [Fact]
    public void RejectsIllTypedAndUnknownFields()
    {
        AssertRejects(FileOf("{\"a\":[1]}"), "Tensor 'a': its entry must be an object with \"dtype\", \"shape\" and \"data_offsets\", found an array at byte 13");
        AssertRejects(FileOf("{\"a\":null}"), "its entry must be an object", "found null");
        AssertRejects(FileOf("{\"a\":{\"dtype\":32,\"shape\":[],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': \"dtype\" must be a string, found the number 32 at byte 22");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", F32(1)), "\"shape\" must be an array of integers, found the string '1'");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", F32(1)), "dimension 0 of \"shape\" must be an integer, found the number 1.0");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", F32(1)), "must be an integer, found the number 1e0");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", F32(1)), "dimension 0 of \"shape\" must be an integer, found an array");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", F32(1)), "\"data_offsets\" must be an array of two integers [begin, end], found the end of the array");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,8]}}", F32(1)), "\"data_offsets\" must be an array of two integers", "found the number 8");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":{\"0\":4}}}", F32(1)), "\"data_offsets\" must be an array of two integers", "found an object");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[\"0\",4]}}", F32(1)), "\"data_offsets\" must be an array of two integers", "found the string '0'");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"offsets\":[0,4]}}", F32(1)), "Tensor 'a': unknown field 'offsets' at byte 39");
    }

    [Fact]
    public void RejectsOverlappingOffsets()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        AssertRejects(FileOf(json, F32(1, 2, 3)), "Tensor 'b': data_offsets [4, 12] overlap tensor 'a', which ends at 8");
        string same = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        AssertRejects(FileOf(same, F32(1)), "Tensor 'b': data_offsets [0, 4] overlap tensor 'a', which ends at 4");
    }

    [Fact]
    public void RejectsGapsBetweenOffsets()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        AssertRejects(FileOf(json, F32(1, 2, 3)), "Tensor 'b': data_offsets [8, 12] leave a gap: data bytes 4 to 7 belong to no tensor (the previous tensor, 'a', ends at 4)");
        string late = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        AssertRejects(FileOf(late, F32(1, 2)), "Tensor 'a': data_offsets [4, 8] leave a gap: data bytes 0 to 3 belong to no tensor");
    }

    [Fact]
    public void RejectsOffsetsThatDoNotEndAtTheEndOfTheFile()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        AssertRejects(FileOf(json, F32(1, 2)), "The tensors end at data byte 4, but the file goes on: its last 4 bytes belong to no tensor", "starts at byte 62 and holds 8 bytes");
        AssertRejects(FileOf("{}      ", [0]), "The tensors end at data byte 0, but the file goes on: its last 1 bytes belong to no tensor");
        string wide = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        AssertRejects(FileOf(wide, F32(1)), "Tensor 'a': data_offsets [0, 8] run past the end of the file", "holds 4 bytes");
        string huge = "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[18446744073709551615,18446744073709551615]}}";
        AssertRejects(FileOf(huge), "data_offsets [18446744073709551615, 18446744073709551615] leave a gap");
    }

    [Fact]
    public void RejectsASpanThatDoesNotMatchShapeAndDtype()
    {
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': shape [2] of F32 takes 8 bytes, but data_offsets [0, 4] span 4");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", new byte[24]), "shape [2, 3] of F16 takes 12 bytes, but data_offsets [0, 24] span 24");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", F64(1)), "takes 8 bytes, but data_offsets [0, 18446744073709551615] span 18446744073709551615");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", F32(1)), "Tensor 'a': data_offsets [8, 4] end before they begin");
    }

    [Fact]
    public void RejectsNegativeDimensionsAndOffsets()
    {
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': dimension 1 of \"shape\" is negative (the number -1) at byte 39");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[-99999999999999999999],\"data_offsets\":[0,4]}}", F32(1)), "dimension 0 of \"shape\" is negative");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", F32(1)), "Tensor 'a': the begin of \"data_offsets\" is negative (the number -4)");
    }

    [Fact]
    public void RejectsShapesWhoseElementCountOverflows()
    {
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536],\"data_offsets\":[0,4]}}", F32(1)), "Tensor 'a': \"shape\" has more elements than a float array can hold (2147483591): its first 2 dimensions already hold 4294967296");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,0],\"data_offsets\":[0,0]}}"), "has more elements than a float array can hold");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,0],\"data_offsets\":[0,0]}}"), "dimension 0 of \"shape\" is 4294967296 at byte 37, larger than a tensor dimension can be (2147483647)");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}}"), "dimension 0 of \"shape\" is larger than 18446744073709551615");
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483592],\"data_offsets\":[0,8589934368]}}"), "more elements than a float array can hold");

        // The largest count is fine as far as the header goes (and then the offsets do not match the file).
        AssertRejects(FileOf("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483591],\"data_offsets\":[0,8589934364]}}"), "run past the end of the file");
    }

    [Fact]
    public void RejectsMetadataThatIsNotAMapOfStrings()
    {
        AssertRejects(FileOf("{\"__metadata__\":{\"k\":1}}"), "The metadata value for key 'k' must be a string, found the number 1 at byte 29");
        AssertRejects(FileOf("{\"__metadata__\":{\"k\":null}}"), "metadata value for key 'k' must be a string, found null");
        AssertRejects(FileOf("{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}"), "metadata value for key 'k' must be a string, found an object");
        AssertRejects(FileOf("{\"__metadata__\":[\"a\"]}"), "\"__metadata__\" must be an object of strings, found an array at byte 24");
        AssertRejects(FileOf("{\"__metadata__\":\"x\"}"), "\"__metadata__\" must be an object of strings, found the string 'x'");
    }

    [Fact]
    public void MessagesQuoteStrangersNamesSafely()
    {
        string name = "\u0001\u001b[31m" + new string('x', 100_000);
        string entry = "{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}";
        string quoted = "\"\\u0001\\u001b[31m" + new string('x', 100_000) + "\"";
        SafetensorsException e = AssertRejects(FileOf("{" + quoted + ":" + entry + "," + quoted + ":" + entry + "}", F32(1), F32(2)), "names tensor '\\u0001\\u001b[31mxxx");
        Assert.True(e.Message.Length < 400, e.Message);
        Assert.Contains("xxx...'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', e.Message);
    }

    [Fact]
    public void LoadReportsMissingFilesAsIOErrors()
    {
        Assert.Throws<FileNotFoundException>(() => Safetensors.Load(Path.Combine(_dir, "nope.safetensors")));
    }

    // ---------------------------------------------------------------- fuzzing

    /// <summary>
    /// Mutations of valid files (truncations, flipped bytes, huge or off-by-some header lengths, numbers in the header
    /// replaced by huge, negative or fractional ones, tokens inserted or deleted, segments duplicated, bytes
    /// appended) are either read or rejected with <see cref="SafetensorsException"/>: nothing else is thrown, nothing
    /// is allocated beyond a small multiple of the input's size, and <c>Load</c> agrees with <c>Parse</c>. A few
    /// thousand cases run by default (about a second); for a long run set <c>DEEPBOX_FUZZ_ITERATIONS</c>:
    /// <code>DEEPBOX_FUZZ_ITERATIONS=100000 dotnet test tests/Deepbox.Tests --filter "FullyQualifiedName~SafetensorsTests.MutatedFilesAreReadOrRejected"</code>
    /// A failure prints the case's seed; rerun it with <c>CsCheck_Seed=&lt;seed&gt;</c>.
    /// </summary>
    [Fact]
    public void MutatedFilesAreReadOrRejected()
    {
        long iterations = long.TryParse(Environment.GetEnvironmentVariable("DEEPBOX_FUZZ_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : 5000;
        var accepted = 0L;
        var rejected = 0L;
        var watch = Stopwatch.StartNew();
        Gen.Select(Gen.Int, Gen.Int[0, 3]).Sample(
            (seed, mutations) =>
            {
                var rng = new Random(seed);
                byte[] valid = RandomValidFile(rng);
                byte[] file = valid;
                for (int m = 0; m < mutations; m++)
                {
                    file = Mutate(file, rng);
                }

                bool ok = CheckOne(file, rng.Next(8) == 0);
                Interlocked.Increment(ref ok ? ref accepted : ref rejected);
            },
            writeLine: _output.WriteLine,
            iter: iterations,
            threads: 2,
            print: t => $"seed {t.Item1}, {t.Item2} mutations");
        watch.Stop();
        _output.WriteLine(
            $"{accepted + rejected} cases in {watch.Elapsed.TotalSeconds:F2} s ({(accepted + rejected) / watch.Elapsed.TotalSeconds:F0}/s): {accepted} read, {rejected} rejected.");
        Assert.True(rejected > 0 && accepted > 0, $"{accepted} read, {rejected} rejected");
    }

    /// <summary>Runs Parse (and sometimes Load) on <paramref name="file"/>; returns whether it was read.</summary>
    private bool CheckOne(byte[] file, bool alsoLoad)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        SafetensorsFile? parsed = null;
        string? error = null;
        try
        {
            parsed = Safetensors.Parse(file);
        }
        catch (SafetensorsException e)
        {
            error = e.Message;
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 256 * 1024 + (64L * file.Length), $"Parse allocated {allocated} bytes for a {file.Length}-byte file");
        if (parsed is not null)
        {
            // Every element takes at least two bytes of the file.
            Assert.True(parsed.Tensors.Values.Sum(t => (long)t.Length) * 2 <= file.Length);
        }

        if (alsoLoad)
        {
            string path = Path.Combine(_dir, $"fuzz{Environment.CurrentManagedThreadId}.safetensors");
            File.WriteAllBytes(path, file);
            try
            {
                SafetensorsFile loaded = Safetensors.Load(path);
                Assert.True(parsed is not null, $"Load read a file Parse rejected: {error}");
                AssertSameTensors(parsed.Tensors, loaded.Tensors);
                Assert.Equal(parsed.Metadata.ToList(), loaded.Metadata.ToList());
            }
            catch (SafetensorsException e)
            {
                Assert.True(error is not null && e.Message.EndsWith(error, StringComparison.Ordinal), $"Load: {e.Message}\nParse: {error}");
            }
        }

        return parsed is not null;
    }

    private static readonly string[] Names = ["w", "b", "lstm.weight_ih_l0", "fc.bias", "é", "\\u0041", "a\\\"b", "__metadata_", ""];
    private static readonly string[] Dtypes = ["F32", "F16", "BF16", "F64"];

    /// <summary>A valid file of up to four tensors of every readable dtype, listed in random order, maybe with metadata.</summary>
    private static byte[] RandomValidFile(Random rng)
    {
        int count = rng.Next(0, 5);
        var entries = new List<string>();
        var data = new List<byte>();
        var used = new HashSet<string>();
        for (int i = 0; i < count; i++)
        {
            string name = Names[rng.Next(Names.Length)] + (rng.Next(2) == 0 ? "" : i.ToString(CultureInfo.InvariantCulture));
            if (!used.Add(name.Replace("\\u0041", "A", StringComparison.Ordinal)))
            {
                continue;
            }

            string dtype = Dtypes[rng.Next(Dtypes.Length)];
            int size = dtype switch { "F16" or "BF16" => 2, "F64" => 8, _ => 4 };
            int[] shape = Enumerable.Range(0, rng.Next(0, 4)).Select(_ => rng.Next(0, 4)).ToArray();
            int bytes = shape.Aggregate(1, (a, d) => a * d) * size;
            entries.Add($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{data.Count},{data.Count + bytes}]}}");
            var values = new byte[bytes];
            rng.NextBytes(values);
            data.AddRange(values);
        }

        if (rng.Next(3) == 0)
        {
            entries.Add("\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\\n\"}");
        }

        entries = entries.OrderBy(_ => rng.Next()).ToList();
        string json = "{" + string.Join(",", entries) + "}";
        json += new string(' ', rng.Next(0, 9));
        return FileOf(json, [.. data]);
    }

    private static readonly string[] Numbers =
    [
        "-1", "-0", "0", "1", "7", "2147483647", "2147483648", "2147483591", "2147483592", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "1e309", "1.5",
        "100000000", "99999999999999999999999999999999", "-9223372036854775809",
    ];

    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", "\"", ",", ":", "\\", "\\u", "\\ud800", "null", "true", "[1]", "{}", "\"F16\"", "\"I32\"",
        "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\u0000", "é", " ", "\n", "[[[[[[[[[[",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
    ];

    private static byte[] Mutate(byte[] file, Random rng)
    {
        int headerLength = file.Length >= 8 ? (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(file), (ulong)(file.Length - 8)) : 0;
        switch (rng.Next(8))
        {
            case 0: // truncate
                return file[..rng.Next(file.Length + 1)];
            case 1: // flip bytes, mostly in the prefix and header
            {
                byte[] copy = (byte[])file.Clone();
                for (int i = rng.Next(1, 5); i > 0 && copy.Length > 0; i--)
                {
                    int at = rng.Next(2) == 0 ? rng.Next(Math.Min(copy.Length, 8 + headerLength)) : rng.Next(copy.Length);
                    copy[at] ^= (byte)rng.Next(1, 256);
                }

                return copy;
            }

            case 2: // a huge, limit-straddling or off-by-some header length
            {
                if (file.Length < 8)
                {
                    return file;
                }

                byte[] copy = (byte[])file.Clone();
                ulong[] lengths =
                [
                    0, 1, 7, (ulong)headerLength - 1, (ulong)headerLength + 1, (ulong)headerLength + 8, (ulong)file.Length,
                    (ulong)file.Length - 8, (ulong)file.Length - 7, 99_999_999, 100_000_000, 100_000_001, int.MaxValue,
                    1UL << 31, 1UL << 32, long.MaxValue, 1UL << 63, ulong.MaxValue, (ulong)rng.NextInt64(), (ulong)rng.Next(),
                ];
                BinaryPrimitives.WriteUInt64LittleEndian(copy, lengths[rng.Next(lengths.Length)]);
                return copy;
            }

            case 3: // replace a number in the header (a dimension or an offset) by a huge, negative or fractional one
            {
                string header = HeaderText(file, headerLength);
                var digits = new List<(int Start, int Length)>();
                for (int i = 0; i < header.Length; i++)
                {
                    if (char.IsAsciiDigit(header[i]) && (i == 0 || !char.IsAsciiDigit(header[i - 1])))
                    {
                        int j = i;
                        while (j < header.Length && char.IsAsciiDigit(header[j]))
                        {
                            j++;
                        }

                        digits.Add((i, j - i));
                    }
                }

                if (digits.Count == 0)
                {
                    return file;
                }

                (int start, int length) = digits[rng.Next(digits.Count)];
                return WithHeader(file, headerLength, header[..start] + Numbers[rng.Next(Numbers.Length)] + header[(start + length)..]);
            }

            case 4: // insert, replace or delete a token in the header
            {
                string header = HeaderText(file, headerLength);
                int at = rng.Next(header.Length + 1);
                int remove = rng.Next(Math.Min(4, header.Length - at) + 1);
                string insert = rng.Next(3) == 0 ? "" : Tokens[rng.Next(Tokens.Length)];
                return WithHeader(file, headerLength, header[..at] + insert + header[(at + remove)..]);
            }

            case 5: // duplicate a segment of the header (duplicate keys, fields, entries)
            {
                string header = HeaderText(file, headerLength);
                int at = rng.Next(header.Length + 1);
                int length = rng.Next(header.Length - at + 1);
                return WithHeader(file, headerLength, header[..(at + length)] + header[at..]);
            }

            case 6: // append or remove data bytes
            {
                int extra = rng.Next(-8, 9);
                byte[] copy = new byte[Math.Max(0, file.Length + extra)];
                file.AsSpan(0, Math.Min(file.Length, copy.Length)).CopyTo(copy);
                return copy;
            }

            default: // random bytes
            {
                byte[] copy = new byte[rng.Next(0, 64)];
                rng.NextBytes(copy);
                return copy;
            }
        }
    }

    private static string HeaderText(byte[] file, int headerLength) =>
        file.Length < 8 ? "" : Encoding.UTF8.GetString(file, 8, headerLength);

    /// <summary>The file with its header replaced by <paramref name="header"/> and the length prefix fixed to match.</summary>
    private static byte[] WithHeader(byte[] file, int headerLength, string header)
    {
        byte[] data = file.Length < 8 ? [] : file[(8 + headerLength)..];
        return FileOf(header, data);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>A file: the 8-byte length of <paramref name="header"/>, its UTF-8 bytes exactly as given, then the data.</summary>
    private static byte[] FileOf(string header, params byte[][] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + data.Sum(d => d.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        int at = 8 + json.Length;
        foreach (byte[] d in data)
        {
            d.CopyTo(file, at);
            at += d.Length;
        }

        return file;
    }

    private static byte[] WithLength(byte[] file, ulong length)
    {
        byte[] copy = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy, length);
        return copy;
    }

    private static byte[] F32(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    private static byte[] F64(params double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        return bytes;
    }

    private static byte[] U16(ushort[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), values[i]);
        }

        return bytes;
    }

    private SafetensorsFile LoadBytes(byte[] bytes)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(path, bytes);
        return Safetensors.Load(path);
    }

    /// <summary>Asserts that Parse and Load both reject <paramref name="file"/> with a message holding every fragment.</summary>
    private SafetensorsException AssertRejects(byte[] file, params string[] fragments)
    {
        SafetensorsException parse = Assert.Throws<SafetensorsException>(() => Safetensors.Parse(file));
        string path = Path.Combine(_dir, "rejected.safetensors");
        File.WriteAllBytes(path, file);
        SafetensorsException load = Assert.Throws<SafetensorsException>(() => Safetensors.Load(path));
        Assert.StartsWith($"'{path}' is not a valid safetensors file. ", load.Message, StringComparison.Ordinal);
        foreach (string fragment in fragments)
        {
            Assert.Contains(fragment, parse.Message, StringComparison.Ordinal);
            Assert.Contains(fragment, load.Message, StringComparison.Ordinal);
        }

        return parse;
    }

    private static void AssertSameTensors(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys, actual.Keys);
        foreach ((string name, Tensor t) in expected)
        {
            Assert.Equal(t.Shape, actual[name].Shape);
            Assert.True(
                t.AsSpan().ToArray().Select(BitConverter.SingleToInt32Bits).SequenceEqual(actual[name].AsSpan().ToArray().Select(BitConverter.SingleToInt32Bits)),
                $"{name}: values differ");
        }
    }

    private static void AssertBits(float[] expected, Tensor actual)
    {
        float[] values = actual.ToArray();
        Assert.Equal(expected.Length, values.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = float.IsNaN(expected[i]) ? float.IsNaN(values[i]) : BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(values[i]);
            Assert.True(same, $"[{i}]: expected {expected[i]:R}, got {values[i]:R}");
        }
    }
}
