using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using Deepbox.CompilerServices;

namespace Deepbox.Benchmarks.Suites;

/// <summary>
/// When <c>Threads = 2</c> pays (the <c>threads</c> mode): the evaluation Forward of four models at batch sizes and
/// lengths around the crossover, with 1 thread, with 2 threads split whatever the work (<c>Workers.MinWorkPerThread</c>
/// 0), and with 2 threads under the default policy (a region splits only where each thread gets
/// <c>Workers.DefaultMinWorkPerThread</c> floating-point operations). Each figure is the best mean of 7 rounds, the
/// three settings alternating; the work per thread is the generated code's own count (a multiply-add per gate sum
/// and input or hidden unit, per sequence and step, over the job), halved.
/// </summary>
public static class ThreadsCrossover
{
    /// <summary>Prints the table (Markdown) to the console.</summary>
    public static int Run(bool quick)
    {
        var rows = new List<string>
        {
            "| model | T | B | work per thread (2 threads) | 1 thread | 2 threads, always split | 2 threads, default policy | split / 1 thread | default / 1 thread |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        };
        Measure(rows, "Lstm(1, 32)", () => new CrossLstm1x32(), 1, 32, 2 * 128 * (1 + 32), quick);
        Measure(rows, "Gru(8, 32)", () => new CrossGru8x32(), 8, 32, 2 * 96 * (8 + 32), quick);
        Measure(rows, "Lstm(16, 64) (W1)", () => new W1Lstm(), 16, 64, 2 * 256 * (16 + 64), quick);
        Measure(rows, "Lstm(32, 128)", () => new CrossLstm32x128(), 32, 128, 2 * 512 * (32 + 128), quick);
        foreach (string row in rows)
        {
            Console.WriteLine(row);
        }

        return 0;
    }

    private static void Measure(List<string> rows, string name, Func<IModel> create, int input, int hidden, long rowWork, bool quick)
    {
        foreach (int seqLen in new[] { 16, 64 })
        {
            foreach (int batch in new[] { 8, 16, 32, 64, 128 })
            {
                IModel model = create();
                model.Eval();
                var x = new float[batch * seqLen * input];
                for (int i = 0; i < x.Length; i++)
                {
                    x[i] = MathF.Sin(i);
                }

                var y = new float[batch * seqLen * hidden];
                long work = rowWork * batch * seqLen;
                int reps = Math.Max(3, (int)((quick ? 2e7 : 1e8) / work));
                double[] best = [double.MaxValue, double.MaxValue, double.MaxValue];
                for (int round = 0; round < (quick ? 3 : 7); round++)
                {
                    for (int setting = 0; setting < 3; setting++)
                    {
                        model.Threads = setting == 0 ? 1 : 2;
                        Workers.MinWorkPerThread = setting == 1 ? 0 : Workers.DefaultMinWorkPerThread;
                        model.Forward(x, batch, seqLen, y);
                        var clock = Stopwatch.StartNew();
                        for (int i = 0; i < reps; i++)
                        {
                            model.Forward(x, batch, seqLen, y);
                        }

                        best[setting] = Math.Min(best[setting], clock.Elapsed.TotalMicroseconds / reps);
                    }
                }

                Workers.MinWorkPerThread = Workers.DefaultMinWorkPerThread;
                rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {name} | {seqLen} | {batch} | {work / 2 / 1e6:F2} M | {best[0]:F1} µs | {best[1]:F1} µs | {best[2]:F1} µs | {best[0] / best[1]:F2} | {best[0] / best[2]:F2} |"));
            }
        }
    }
}

/// <summary>The crossover table's smallest LSTM.</summary>
[Lstm(1, 32, BatchFirst = true)]
public sealed partial class CrossLstm1x32;

/// <summary>The crossover table's GRU.</summary>
[Gru(8, 32, BatchFirst = true)]
public sealed partial class CrossGru8x32;

/// <summary>The crossover table's largest LSTM.</summary>
[Lstm(32, 128, BatchFirst = true)]
public sealed partial class CrossLstm32x128;
