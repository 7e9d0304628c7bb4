using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics;
using Deepbox;

namespace RecurrentLayers;

/// <summary>deepbox's "Recurrent Layers" tutorial, with the models compiled by Deepbox.</summary>
public static class Tutorial
{
    /// <summary>Prints the tutorial's transcript, then what Deepbox adds (scalar counts, a few values).</summary>
    /// <param name="output">Where to print.</param>
    public static void Run(TextWriter output)
    {
        // Batch of 2 sequences, each with 3 time steps and 4 features.
        Tensor rnnInput = Tensor.From(new float[,,]
        {
            { { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10, 11, 12 } },
            { { 13, 14, 15, 16 }, { 17, 18, 19, 20 }, { 21, 22, 23, 24 } },
        });

        var rnn = new SeedRnn();
        output.WriteLine("RNN(inputSize=4, hiddenSize=8, batchFirst=true)");
        output.WriteLine($"Input shape: {Tensor.FormatShape(rnnInput.Shape)}");
        Tensor rnnOut = rnn.Forward(rnnInput);
        output.WriteLine($"Output shape: {Tensor.FormatShape(rnnOut.Shape)}");
        output.WriteLine("Output contains hidden states for all time steps");

        var lstm = new SeedLstm();
        output.WriteLine("\nLSTM(inputSize=4, hiddenSize=8, batchFirst=true)");
        output.WriteLine($"Input shape: {Tensor.FormatShape(rnnInput.Shape)}");
        Tensor lstmOut = lstm.Forward(rnnInput);
        output.WriteLine($"Output shape: {Tensor.FormatShape(lstmOut.Shape)}");
        output.WriteLine("LSTM uses forget/input/output gates for selective memory");

        var gru = new SeedGru();
        output.WriteLine("\nGRU(inputSize=4, hiddenSize=8, batchFirst=true)");
        output.WriteLine($"Input shape: {Tensor.FormatShape(rnnInput.Shape)}");
        Tensor gruOut = gru.Forward(rnnInput);
        output.WriteLine($"Output shape: {Tensor.FormatShape(gruOut.Shape)}");
        output.WriteLine("GRU uses reset/update gates — fewer params than LSTM");

        var deepRnn = new DeepRnn();
        output.WriteLine("\nRNN(inputSize=4, hiddenSize=16, numLayers=2)");
        output.WriteLine($"Input shape: {Tensor.FormatShape(rnnInput.Shape)}");
        Tensor deepOut = deepRnn.Forward(rnnInput);
        output.WriteLine($"Output shape: {Tensor.FormatShape(deepOut.Shape)}");
        output.WriteLine("2-layer RNN extracts higher-level sequential patterns");

        output.WriteLine("\nParameter Comparison:");
        output.WriteLine($"RNN parameters: {rnn.Parameters().Count}");
        output.WriteLine($"LSTM parameters: {lstm.Parameters().Count} (4x gates)");
        output.WriteLine($"GRU parameters: {gru.Parameters().Count} (3x gates)");

        // What Deepbox adds to the transcript.
        output.WriteLine("\nScalar parameter values:");
        output.WriteLine($"{rnn}: {SeedRnn.ParameterCount}");
        output.WriteLine($"{lstm}: {SeedLstm.ParameterCount}");
        output.WriteLine($"{gru}: {SeedGru.ParameterCount}");
        output.WriteLine($"{deepRnn}: {DeepRnn.ParameterCount}");
        output.WriteLine("\nOutputs of sequence 0 at the last step (default seed: each model as the first module of a fresh PyTorch process):");
        output.WriteLine($"RNN:  {LastStep(rnnOut)}");
        output.WriteLine($"LSTM: {LastStep(lstmOut)}");
        output.WriteLine($"GRU:  {LastStep(gruOut)}");
        output.WriteLine($"\nVector path: {VectorPath()}");
    }

    /// <summary>The hidden state of sequence 0 after the last step, round-trip formatted.</summary>
    private static string LastStep(Tensor output) =>
        string.Join(" ", Enumerable.Range(0, output.Shape[2]).Select(j => output[0, output.Shape[1] - 1, j].ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>The vector path the generated kernels run on this machine.</summary>
    public static string VectorPath() =>
        Vector256.IsHardwareAccelerated
            ? Vector512.IsHardwareAccelerated ? "Vector256 blocks, hardware-accelerated, 16-float tiles on Vector512" : "Vector256 blocks, hardware-accelerated"
            : !Vector128.IsHardwareAccelerated ? "Vector128 ladder, emulated (no SIMD: correct but slow)"
            : System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported ? "Vector128 ladder, hardware-accelerated"
            : "Vector128 ladder, hardware-accelerated, multiply-adds unfused (no FMA)";
}
