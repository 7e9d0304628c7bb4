using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using Deepbox;

namespace RecurrentLayers;

/// <summary>Times <c>Step</c> on the tutorial's models: one step of one sequence, state carried, nothing allocated.</summary>
public static class StepTiming
{
    /// <summary>Prints nanoseconds per step for the RNN, LSTM and GRU of the tutorial.</summary>
    /// <param name="output">Where to print.</param>
    /// <param name="steps">Steps to time per model (after as many again to warm up).</param>
    public static void Run(TextWriter output, int steps)
    {
        output.WriteLine($"Step latency, {steps} steps each ({Tutorial.VectorPath()}):");
        var rnn = new SeedRnn();
        var lstm = new SeedLstm();
        var gru = new SeedGru();
        Time(output, rnn.ToString(), rnn.CreateState(), (x, s, y) => rnn.Step(x, s, y), steps);
        Time(output, lstm.ToString(), lstm.CreateState(), (x, s, y) => lstm.Step(x, s, y), steps);
        Time(output, gru.ToString(), gru.CreateState(), (x, s, y) => gru.Step(x, s, y), steps);
    }

    private static void Time(TextWriter output, string name, ModelState state, StepFunction step, int steps)
    {
        float[] x = [0.5f, -0.25f, 0.125f, 1f];
        var y = new float[8];
        for (int i = 0; i < steps; i++)
        {
            step(x, state, y);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < steps; i++)
        {
            step(x, state, y);
        }

        double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / steps;
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name}: {ns:F1} ns per step, {allocated} bytes allocated"));
    }

    private delegate void StepFunction(ReadOnlySpan<float> x, ModelState state, Span<float> y);
}
