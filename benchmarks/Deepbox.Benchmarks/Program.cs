using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Deepbox.Benchmarks.Peers;

namespace Deepbox.Benchmarks;

/// <summary>
/// The suite's entry point. Modes (benchmarks/run.sh calls them in this order):
/// <c>check</c> (every peer against Deepbox), <c>fixtures DIR</c> (data for the Node peer), <c>peak</c> (FMA peak),
/// <c>bench</c> (BenchmarkDotNet), <c>report</c> (docs/benchmarks.md). Each takes <c>--filter GLOB</c> (BDN's syntax,
/// on names like <c>Deepbox.Benchmarks.Suites.S16_Lstm.LibTorch_1T</c>) and <c>--results DIR</c>. One more, not part of a
/// run: <c>loop [SECONDS [METHOD]] --filter GLOB</c> calls one benchmark method (Deepbox, or e.g. Deepbox_2T or Padded) of each
/// selected benchmark class for SECONDS (10) each, after its own setup, for a
/// sampling profiler to watch (see docs/benchmarks.md); and <c>pair ROUNDS SECONDS METHOD_A METHOD_B --filter GLOB</c>
/// alternates two methods of each selected class (A for SECONDS, then B, ROUNDS times) and prints each round's ratio
/// of their mean times and the median: on a machine shared with other work, the two sides of a ratio then run a few
/// seconds apart, under the same load.
/// </summary>
public static class Program
{
    /// <summary>Runs a mode.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: Deepbox.Benchmarks check|fixtures|peak|bench|report|loop|pair|threads|onnx-size [--filter GLOB]... [--results DIR] [--quick] [-- BDN args]");
            return 2;
        }

        var options = Options.Parse(args.Skip(1).ToArray());
        return args[0] switch
        {
            "check" => Check(options),
            "fixtures" => ExportFixtures(options),
            "peak" => Peak(options),
            "bench" => Runner.Bench(options),
            "report" => Report.ReportWriter.Write(options),
            "loop" => Loop(options),
            "pair" => Pair(options),
            "threads" => Suites.ThreadsCrossover.Run(options.Quick),
            "onnx-size" => OnnxSizes(options),
            _ => Fail($"unknown mode {args[0]}"),
        };
    }

    /// <summary>The size of each selected forward workload's model (seeded weights) as Deepbox.Onnx exports it.</summary>
    private static int OnnxSizes(Options options)
    {
        foreach (Workload w in Workload.All.Where(w => w.Kind == WorkloadKind.Forward && options.Selects(w, null)))
        {
            IModel model = DeepboxModels.Create(w, Fixture.WeightSeed);
            int bytes = global::Deepbox.Onnx.OnnxExport.ToBytes(model).Length;
            int parameters = model.Parameters().Sum(p => p.Value.Length);
            Console.WriteLine(System.FormattableString.Invariant($"{w.Name}: {bytes:N0} bytes ({parameters:N0} float32 parameters = {parameters * 4:N0} bytes)"));
        }

        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    /// <summary>Validates every peer of every selected workload (1 and 2 threads) and writes check.json.</summary>
    private static int Check(Options options)
    {
        int failed = 0;
        foreach (Workload w in Workload.All.Where(w => options.Selects(w, null)))
        {
            Fixture f = Fixture.Create(w);
            foreach (int threads in new[] { 1, 2 })
            {
                string torchLabel = $"{w.Name}/{Peer.LibTorch(threads)}";
                failed += Try(torchLabel, () =>
                {
                    switch (w.Kind)
                    {
                        case WorkloadKind.Forward: { using var p = new TorchForward(f, threads); return p.Validate(torchLabel); }
                        case WorkloadKind.Streaming: { using var p = new TorchStreaming(f, threads); return p.Validate(torchLabel); }
                        default: { using var p = new TorchTraining(f, threads); return p.Validate(torchLabel); }
                    }
                });
                if (w.Kind == WorkloadKind.Training)
                {
                    continue; // ONNX Runtime's CPU package does not train
                }

                string ortLabel = $"{w.Name}/{Peer.OnnxRuntime(threads)}";
                failed += Try(ortLabel, () =>
                {
                    if (w.Kind == WorkloadKind.Forward)
                    {
                        using var p = new OrtForward(f, threads);
                        return p.Validate(ortLabel);
                    }

                    using var s = new OrtStreaming(f, threads);
                    return s.Validate(ortLabel);
                });
            }
        }

        Directory.CreateDirectory(options.Results);
        File.WriteAllText(Path.Combine(options.Results, "check.json"), JsonSerializer.Serialize(Checks.All, Json.Options));
        Console.WriteLine(failed == 0 ? "check: every peer agrees with Deepbox" : $"check: {failed} peer(s) disagree with Deepbox");
        return failed == 0 ? 0 : 1;
    }

    private static int Try(string label, Func<float> check)
    {
        try
        {
            float worst = check();
            Console.WriteLine($"  {label,-32} ok, largest difference {worst:G3}");
            return 0;
        }
        catch (Exception e)
        {
            Console.WriteLine($"  {label,-32} FAILED: {e.Message}");
            return 1;
        }
    }

    private static int ExportFixtures(Options options)
    {
        string dir = options.Positional.FirstOrDefault() ?? Path.Combine(options.Results, "fixtures");
        var names = new List<string>();
        foreach (Workload w in Workload.All.Where(w => options.Selects(w, Peer.Npm)))
        {
            Fixture.Create(w).Export(dir);
            names.Add(w.Name);
        }

        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "index.json"), JsonSerializer.Serialize(names, Json.Options));

        Console.WriteLine($"fixtures: written to {dir}");
        return 0;
    }

    /// <summary>
    /// Calls the Deepbox benchmark of every selected workload in a loop (<c>SetupDeepbox</c>, then <c>Deepbox</c>) for a
    /// number of seconds, and prints the calls and the mean time: something steady for <c>perf record</c> to sample.
    /// </summary>
    private static int Loop(Options options)
    {
        double seconds = options.Positional.Count > 0 ? double.Parse(options.Positional[0], System.Globalization.CultureInfo.InvariantCulture) : 10;
        string method = options.Positional.Count > 1 ? options.Positional[1] : Peer.Deepbox;
        // Every benchmark class with that method whose full name the filters select.
        IEnumerable<Type> suites = Selected(options, method, method);
        foreach (Type suite in suites)
        {
            (long calls, TimeSpan elapsed) = Repeat(Prepared(suite, method), seconds);
            Console.WriteLine($"loop: {suite.Name} {method}, {calls} calls in {elapsed.TotalSeconds:F1} s, {elapsed.TotalMilliseconds * 1000 / calls:F2} µs each");
        }

        return 0;
    }

    /// <summary>
    /// Alternates two benchmark methods of every selected class, each after its own setup (on instances of their own):
    /// A for a number of seconds, then B, for a number of rounds; prints each round's mean times and their ratio A / B,
    /// then the median, the least and the greatest ratio.
    /// </summary>
    private static int Pair(Options options)
    {
        if (options.Positional.Count < 4)
        {
            return Fail("usage: Deepbox.Benchmarks pair ROUNDS SECONDS METHOD_A METHOD_B --filter GLOB");
        }

        int rounds = int.Parse(options.Positional[0], System.Globalization.CultureInfo.InvariantCulture);
        double seconds = double.Parse(options.Positional[1], System.Globalization.CultureInfo.InvariantCulture);
        string a = options.Positional[2];
        string b = options.Positional[3];
        foreach (Type suite in Selected(options, a, b))
        {
            Action callA = Prepared(suite, a);
            Action callB = Prepared(suite, b);
            var ratios = new List<double>();
            for (int round = 1; round <= rounds; round++)
            {
                double timeA = MeanMicroseconds(Repeat(callA, seconds));
                double timeB = MeanMicroseconds(Repeat(callB, seconds));
                ratios.Add(timeA / timeB);
                Console.WriteLine(System.FormattableString.Invariant($"pair: {suite.Name} round {round}: {a} {timeA:F1} µs, {b} {timeB:F1} µs, {a} / {b} {timeA / timeB:F3}"));
            }

            ratios.Sort();
            double median = ratios.Count % 2 == 1 ? ratios[ratios.Count / 2] : (ratios[(ratios.Count / 2) - 1] + ratios[ratios.Count / 2]) / 2;
            Console.WriteLine(System.FormattableString.Invariant($"pair: {suite.Name} {a} / {b} over {rounds} rounds: median {median:F3}, least {ratios[0]:F3}, greatest {ratios[^1]:F3}"));
        }

        return 0;

        static double MeanMicroseconds((long Calls, TimeSpan Elapsed) run) => run.Elapsed.TotalMilliseconds * 1000 / run.Calls;
    }

    /// <summary>Calls <paramref name="call"/> until <paramref name="seconds"/> have passed: how many calls, in how long.</summary>
    private static (long Calls, TimeSpan Elapsed) Repeat(Action call, double seconds)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long calls = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            call();
            calls++;
        }

        return (calls, clock.Elapsed);
    }

    /// <summary>The benchmark classes with both methods whose full name (with <paramref name="a"/>) the filters select, by name.</summary>
    private static IEnumerable<Type> Selected(Options options, string a, string b) =>
        typeof(Program).Assembly.GetTypes()
            .Where(t => t.Namespace == "Deepbox.Benchmarks.Suites" && !t.IsAbstract && IsBenchmark(t, a) && IsBenchmark(t, b)
                && (options.Filters.Count == 0 || options.Filters.Any(f => Options.Glob(f).IsMatch($"{t.FullName}.{a}"))))
            .OrderBy(t => t.Name, StringComparer.Ordinal);

    private static bool IsBenchmark(Type t, string method) =>
        t.GetMethod(method)?.GetCustomAttribute<BenchmarkDotNet.Attributes.BenchmarkAttribute>() is not null;

    /// <summary>A benchmark method on an instance of its own, after the benchmark's own [GlobalSetup] (the one whose targets name it).</summary>
    private static Action Prepared(Type suite, string method)
    {
        object instance = Activator.CreateInstance(suite)!;
        suite.GetMethods().Single(m => m.GetCustomAttribute<BenchmarkDotNet.Attributes.GlobalSetupAttribute>() is { } g
            && (g.Targets ?? []).Contains(method)).Invoke(instance, null);
        return suite.GetMethod(method)!.CreateDelegate<Action>(instance);
    }

    private static int Peak(Options options)
    {
        FmaPeak peak = FmaPeak.Measure();
        Directory.CreateDirectory(options.Results);
        File.WriteAllText(Path.Combine(options.Results, "peak.json"), JsonSerializer.Serialize(peak, Json.Options));
        Console.WriteLine($"peak: {peak}");
        return 0;
    }
}

/// <summary>The peers' method names in the benchmark classes, which are also their keys in the results.</summary>
public static class Peer
{
    /// <summary>Deepbox.</summary>
    public const string Deepbox = "Deepbox";

    /// <summary>Deepbox with <c>Threads = 2</c> (forward workloads).</summary>
    public const string Deepbox2 = "Deepbox_2T";

    /// <summary>The npm package, timed by benchmarks/deepbox/bench.mjs.</summary>
    public const string Npm = "Npm_deepbox";

    /// <summary>libtorch with the given threads.</summary>
    public static string LibTorch(int threads) => $"LibTorch_{threads}T";

    /// <summary>ONNX Runtime with the given intra-op threads.</summary>
    public static string OnnxRuntime(int threads) => $"OnnxRuntime_{threads}T";
}

/// <summary>Command-line options shared by the modes.</summary>
public sealed class Options
{
    /// <summary>Glob filters (any may match); empty selects everything.</summary>
    public List<string> Filters { get; } = [];

    /// <summary>Where results go (and are read from).</summary>
    public string Results { get; private set; } = Path.Combine("benchmarks", "artifacts", "results");

    /// <summary>BDN's short job (a smoke run).</summary>
    public bool Quick { get; private set; }

    /// <summary>Where the report goes.</summary>
    public string? Out { get; private set; }

    /// <summary>The command that produced the run, for the report.</summary>
    public string? Command { get; private set; }

    /// <summary>Arguments after <c>--</c>, passed to BenchmarkDotNet.</summary>
    public List<string> Passthrough { get; } = [];

    /// <summary>Other arguments.</summary>
    public List<string> Positional { get; } = [];

    /// <summary>Parses the arguments after the mode.</summary>
    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "--filter": o.Filters.Add(args[++i]); break;
                case "--results": o.Results = args[++i]; break;
                case "--quick": o.Quick = true; break;
                case "--out": o.Out = args[++i]; break;
                case "--command": o.Command = args[++i]; break;
                case "--": o.Passthrough.AddRange(args[(i + 1)..]); i = args.Length; break;
                default: o.Positional.Add(a); break;
            }
        }

        return o;
    }

    /// <summary>The full name BDN gives a benchmark, which the filters match.</summary>
    public static string FullName(Workload w, string? peer) => $"Deepbox.Benchmarks.Suites.{w.Name}.{peer ?? "*"}";

    /// <summary>Whether a workload and peer are selected; with a null peer, whether any of the workload's peers is.</summary>
    public bool Selects(Workload w, string? peer) =>
        Filters.Count == 0 || Filters.Any(f => peer is null ? AnyPeer(f, w) : Glob(f).IsMatch(FullName(w, peer)));

    private static bool AnyPeer(string filter, Workload w) =>
        new[] { Peer.Deepbox, Peer.Deepbox2, Peer.Npm, Peer.LibTorch(1), Peer.LibTorch(2), Peer.OnnxRuntime(1), Peer.OnnxRuntime(2) }
            .Any(p => Glob(filter).IsMatch(FullName(w, p)));

    /// <summary>BDN's glob: <c>*</c> any run of characters, <c>?</c> one, case-insensitive, whole name.</summary>
    public static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
}

/// <summary>JSON settings of every file the suite writes.</summary>
public static class Json
{
    /// <summary>Indented, camelCase.</summary>
    public static JsonSerializerOptions Options { get; } = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
