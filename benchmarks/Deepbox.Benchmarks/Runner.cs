using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Deepbox.Benchmarks;

/// <summary>One measured benchmark, as the report reads it.</summary>
/// <param name="Workload">The class, e.g. <c>W1_Lstm</c>.</param>
/// <param name="Peer">The method, e.g. <c>LibTorch_2T</c>.</param>
/// <param name="MeanNs">Mean time per call.</param>
/// <param name="MedianNs">Median time per call.</param>
/// <param name="StdDevNs">Standard deviation.</param>
/// <param name="ErrorNs">Half of the 99.9% confidence interval, as BDN's Error column.</param>
/// <param name="AllocatedBytes">Managed bytes allocated per call, or null when not measured.</param>
/// <param name="Error">Why it has no numbers (a failed setup check, an exception), or null.</param>
public sealed record Measurement(string Workload, string Peer, double? MeanNs, double? MedianNs, double? StdDevNs, double? ErrorNs, long? AllocatedBytes, string? Error);

/// <summary>Runs BenchmarkDotNet over the suites and writes dotnet.json for the report.</summary>
public static class Runner
{
    /// <summary>The <c>bench</c> mode.</summary>
    public static int Bench(Options options)
    {
        // In-process: the out-of-process toolchain would rebuild the project, copying libtorch's 600 MB per run.
        // Each benchmark still gets its own class instance, setup and cleanup (so only one peer's threads exist at a time).
        Job job = options.Quick
            ? Job.ShortRun.WithId("Quick")
            : Job.Default.WithMaxIterationCount(40).WithId("Full");
        job = job.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(30), logOutput: true));
        string artifacts = Path.Combine(options.Results, "bdn");
        IConfig config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddLogger(ConsoleLogger.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub, JsonExporter.Full)
            .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared, MethodOrderPolicy.Declared))
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.DisableLogFile);

        string loadBefore = LoadAverage();
        string[] bdnArgs = ["--filter", .. (options.Filters.Count == 0 ? ["*"] : options.Filters), .. options.Passthrough];
        IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(bdnArgs, config);
        var measurements = new List<Measurement>();
        foreach (Summary summary in summaries)
        {
            foreach (BenchmarkCase c in summary.BenchmarksCases)
            {
                BenchmarkReport? r = summary[c];
                string workload = c.Descriptor.Type.Name;
                string peer = c.Descriptor.WorkloadMethod.Name;
                if (r?.ResultStatistics is not { } s)
                {
                    CheckResult? failedCheck = Checks.All.FirstOrDefault(x => !x.Passed && x.Label == $"{workload}/{peer}");
                    string why = failedCheck is null
                        ? "no result: the setup or the benchmark threw (see the log)"
                        : $"failed the agreement check: {failedCheck.What} differ from Deepbox's by {failedCheck.Difference:G3} (tolerance {failedCheck.Tolerance:G3})";
                    measurements.Add(new Measurement(workload, peer, null, null, null, null, null, why));
                    continue;
                }

                long? allocated = r.GcStats.GetBytesAllocatedPerOperation(c);
                measurements.Add(new Measurement(workload, peer, s.Mean, s.Median, s.StandardDeviation, s.ConfidenceInterval.Margin, allocated, null));
            }
        }

        Directory.CreateDirectory(options.Results);
        var run = new Dictionary<string, object>
        {
            ["job"] = options.Quick ? "Quick (BDN ShortRun: 1 launch, 3 warmups, 3 iterations)" : "Full (BDN default, at most 40 iterations)",
            ["toolchain"] = "InProcessEmit",
            ["finishedUtc"] = DateTime.UtcNow,
            ["loadAverageBefore"] = loadBefore,
            ["loadAverageAfter"] = LoadAverage(),
            ["measurements"] = measurements,
        };
        File.WriteAllText(Path.Combine(options.Results, "dotnet.json"), JsonSerializer.Serialize(run, Json.Options));
        int failed = measurements.Count(m => m.Error is not null);
        Console.WriteLine($"bench: {measurements.Count} benchmarks, {failed} without numbers; results in {options.Results}");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The 1, 5 and 15-minute load averages (<c>/proc/loadavg</c>), or "?".</summary>
    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
