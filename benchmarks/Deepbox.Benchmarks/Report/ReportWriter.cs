using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Deepbox.Benchmarks.Peers;
using Deepbox.Benchmarks.Suites;

namespace Deepbox.Benchmarks.Report;

/// <summary>
/// Writes the benchmark report (docs/benchmarks.md by default) from one run's results: dotnet.json (BenchmarkDotNet),
/// npm.json (the Node peer), check.json (the agreement checks), peak.json (the FMA peak), and the machine itself.
/// </summary>
public static class ReportWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The report's columns: key in the results, label, threads.</summary>
    private static readonly (string Key, string Label, int Threads)[] Columns =
    [
        (Peer.Deepbox, "Deepbox", 1),
        (Peer.Deepbox2, "Deepbox, 2 threads", 2),
        (Peer.LibTorch(1), "libtorch, 1 thread", 1),
        (Peer.LibTorch(2), "libtorch, 2 threads", 2),
        (Peer.OnnxRuntime(1), "ONNX Runtime, 1 thread", 1),
        (Peer.OnnxRuntime(2), "ONNX Runtime, 2 threads", 2),
        (Peer.Npm, "deepbox (npm, Node)", 1),
    ];

    /// <summary>The <c>report</c> mode.</summary>
    public static int Write(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string dir = options.Results;
        JsonElement? dotnet = Read(Path.Combine(dir, "dotnet.json"));
        JsonElement? npm = Read(Path.Combine(dir, "npm.json"));
        JsonElement? peakJson = Read(Path.Combine(dir, "peak.json"));
        JsonElement? checks = Read(Path.Combine(dir, "check.json"));
        if (dotnet is null)
        {
            Console.Error.WriteLine($"report: no {Path.Combine(dir, "dotnet.json")}; run the bench mode first");
            return 1;
        }

        var rows = new Dictionary<(string Workload, string Peer), Row>();
        foreach (JsonElement m in dotnet.Value.GetProperty("measurements").EnumerateArray())
        {
            var row = new Row(
                Number(m, "meanNs"),
                Number(m, "errorNs"),
                Number(m, "medianNs"),
                m.TryGetProperty("allocatedBytes", out JsonElement a) && a.ValueKind == JsonValueKind.Number ? a.GetInt64() : null,
                Text(m, "error"),
                null);
            rows[(m.GetProperty("workload").GetString()!, m.GetProperty("peer").GetString()!)] = row;
        }

        if (npm is not null)
        {
            foreach (JsonElement r in npm.Value.GetProperty("results").EnumerateArray())
            {
                double? sd = Number(r, "stdDevNs");
                int n = r.TryGetProperty("samples", out JsonElement s) ? s.GetInt32() : 0;
                rows[(r.GetProperty("workload").GetString()!, Peer.Npm)] = new Row(
                    Number(r, "meanNs"), null, Number(r, "medianNs"), null, Text(r, "error"), sd is null || n == 0 ? null : $"{n} samples, σ {Time(sd.Value)}");
            }
        }

        double peak512 = peakJson?.GetProperty("vector512GFlops").GetDouble() ?? 0;
        double peak256 = peakJson?.GetProperty("vector256GFlops").GetDouble() ?? 0;
        double peak = Math.Max(peak512, peak256);
        bool quick = dotnet.Value.GetProperty("job").GetString()!.StartsWith("Quick", StringComparison.Ordinal);
        string job = dotnet.Value.GetProperty("job").GetString()!;
        DateTime finished = dotnet.Value.GetProperty("finishedUtc").GetDateTime();
        List<Workload> workloads = Workload.All.Where(w => rows.Keys.Any(k => k.Workload == w.Name)).ToList();

        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        if (quick)
        {
            md.AppendLine(Inv, $"> **A quick, noisy run ({finished:yyyy-MM-dd}).** BenchmarkDotNet's short job (3 warm-ups, 3 iterations) on a");
            md.AppendLine("> 2-core machine shared with other engineers' builds: the numbers show orders of magnitude and that every peer runs and");
            md.AppendLine("> agrees, not final figures. Spreads of tens of percent between runs are expected; run `benchmarks/run.sh` without");
            md.AppendLine("> `--quick` on a quiet machine for numbers to quote.");
        }
        else
        {
            md.AppendLine(Inv, $"> Run of {finished:yyyy-MM-dd}, BenchmarkDotNet's default job (at most 40 iterations).");
        }

        md.AppendLine();
        md.AppendLine(Inv, $"Produced by `{options.Command ?? "benchmarks/run.sh"}` (issue 7's suite: `benchmarks/`). Every peer runs the same");
        md.AppendLine("weights and inputs, and its outputs were checked against Deepbox's before it was timed (largest differences at the end).");
        md.AppendLine();
        WriteMachine(md, dotnet.Value, npm, peak512, peak256, job);
        if (workloads.Count > 0)
        {
            WriteSummary(md, workloads, rows);
        }

        foreach (Workload w in workloads)
        {
            WriteWorkload(md, w, rows, peak);
        }

        if (rows.Keys.Any(k => k.Workload == nameof(Decay_Lstm)))
        {
            WriteDecay(md, rows);
        }

        if (rows.Keys.Any(k => k.Workload == nameof(W1_Concurrent)))
        {
            WriteConcurrency(md, rows);
        }

        foreach (string name in new[] { nameof(W1_Lstm_Lengths), nameof(W2_Lstm_Lengths), nameof(W3_Lstm_Lengths), nameof(W2_Train_Lengths) }.Where(n => rows.Keys.Any(k => k.Workload == n)))
        {
            WriteLengths(md, rows, name, peak);
        }

        WriteMethod(md);
        WriteReading(md);
        WriteChecks(md, checks, npm);

        string output = options.Out ?? (options.Filters.Count == 0 ? Path.Combine("docs", "benchmarks.md") : Path.Combine(dir, "benchmarks.md"));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, md.ToString());
        Console.WriteLine($"report: written to {output}{(options.Filters.Count > 0 && options.Out is null ? " (a filtered run does not overwrite docs/benchmarks.md)" : "")}");
        return 0;
    }

    private static void WriteMachine(StringBuilder md, JsonElement dotnet, JsonElement? npm, double peak512, double peak256, string job)
    {
        md.AppendLine("## Machine and versions");
        md.AppendLine();
        md.AppendLine(Inv, $"- CPU: {CpuModel()}; {Environment.ProcessorCount} logical cores, {MemoryGiB()} GiB of memory; {RuntimeInformation.OSDescription}.");
        md.AppendLine(Inv, $"- FMA peak of one core, measured by the run (`Deepbox.Benchmarks peak`: 12 independent FMA chains, best of 7): **{F(peak512, 1)} GFLOP/s** with `Vector512`, {F(peak256, 1)} GFLOP/s with `Vector256`. \"% of peak\" below is against {F(Math.Max(peak512, peak256), 1)} GFLOP/s per thread used (twice that for 2-thread rows).");
        if (peak512 > 0 && Math.Abs(peak512 - peak256) < 0.15 * peak256)
        {
            md.AppendLine("  Both widths give the same FLOPs per cycle: this core runs a 512-bit FMA at half the rate of a 256-bit one (as AMD Zen 4, CPU family 25, does), so `Vector512` does not raise the FMA peak here.");
        }

        md.AppendLine(Inv, $"- Deepbox for .NET at commit `{GitCommit()}`, .NET {Environment.Version} ({RuntimeInformation.RuntimeIdentifier}), workstation non-concurrent GC, tiered PGO on.");
        md.AppendLine(Inv, $"- libtorch {string.Join('.', TorchSetup.Version.Split('.').Take(3))} through TorchSharp {TorchSetup.BindingVersion} (`libtorch-cpu-linux-x64` 2.10.0), `torch.set_num_threads(1 or 2)`.");
        md.AppendLine(Inv, $"- ONNX Runtime {OrtSessions.Version} (`Microsoft.ML.OnnxRuntime`), CPU provider, intra-op threads 1 or 2, graph optimizations all.");
        if (npm is not null)
        {
            md.AppendLine(Inv, $"- `deepbox` {npm.Value.GetProperty("deepbox").GetString()} from npm on Node {npm.Value.GetProperty("node").GetString()} (single-threaded JavaScript; its own timing loop, `benchmarks/deepbox/bench.mjs`).");
        }

        md.AppendLine(Inv, $"- BenchmarkDotNet 0.15.8, job {job}, in-process toolchain, `[MemoryDiagnoser]`.");
        if (dotnet.TryGetProperty("loadAverageBefore", out JsonElement before) && dotnet.TryGetProperty("loadAverageAfter", out JsonElement after))
        {
            md.AppendLine(Inv, $"- Load average (1, 5, 15 minutes) when BenchmarkDotNet started: {before.GetString()}; when it finished: {after.GetString()} (on {Environment.ProcessorCount} cores: above {Environment.ProcessorCount}, other processes were competing for them).");
        }

        md.AppendLine("- FLOPs per time step per sequence: RNN 2H(I+H), GRU 6H(I+H), LSTM 8H(I+H); a training step counts 3 forward passes.");
        md.AppendLine();
    }

    private static void WriteSummary(StringBuilder md, List<Workload> workloads, Dictionary<(string, string), Row> rows)
    {
        md.AppendLine("## Summary: time per call (peer / Deepbox)");
        md.AppendLine();
        md.AppendLine("| workload | " + string.Join(" | ", Columns.Select(c => c.Label)) + " |");
        md.AppendLine("| --- |" + string.Concat(Columns.Select(_ => " ---: |")));
        foreach (Workload w in workloads)
        {
            var cells = Columns.Select(c =>
            {
                double? baseline = Baseline(rows, w, c.Key, c.Threads);
                if (!rows.TryGetValue((w.Name, c.Key), out Row? r))
                {
                    return w.Kind == WorkloadKind.Training && c.Key.StartsWith("Onnx", StringComparison.Ordinal) ? "no training" : "—";
                }

                if (r.MeanNs is not { } mean)
                {
                    return "failed";
                }

                return c.Key is Peer.Deepbox or Peer.Deepbox2 || baseline is null ? $"**{Time(mean)}**" : $"{Time(mean)} ({Ratio(mean / baseline.Value)})";
            });
            md.AppendLine($"| {w.Name} | " + string.Join(" | ", cells) + " |");
        }

        md.AppendLine();
        md.AppendLine("A ratio above 1× means the peer is slower than Deepbox: 2-thread peers against Deepbox on 2 threads where it ran (forward");
        md.AppendLine("workloads and the training step), the others against Deepbox on 1. Workloads: W0 the seed tutorial (I=4, H=8, B=2, T=3);");
        md.AppendLine("S8–S64 one streaming step (I=8, H=8–64, state carried); W1 LSTM(16, 64), B=32, T=64; W2 LSTM(128, 256), B=64, T=128;");
        md.AppendLine("W3 a training step of W1's model; W4 GRU(32, 128), B=32, T=100.");
        md.AppendLine();
    }

    private static void WriteWorkload(StringBuilder md, Workload w, Dictionary<(string, string), Row> rows, double peak)
    {
        md.AppendLine(Inv, $"## {w.Name}: {w.Describe()}");
        md.AppendLine();
        md.AppendLine(Inv, $"{FlopsText(w.FlopsPerCall)} per call ({w.FlopsPerStep:N0} per step per sequence × B {w.Batch} × T {w.SeqLen}{(w.Kind == WorkloadKind.Training ? " × 3" : "")}).");
        md.AppendLine();
        md.AppendLine("| implementation | mean | ± error (99.9%) | median | peer / Deepbox (same threads) | GFLOP/s | % of FMA peak | allocated per call |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach ((string key, string label, int threads) in Columns)
        {
            double? baseline = Baseline(rows, w, key, threads);
            if (!rows.TryGetValue((w.Name, key), out Row? r))
            {
                if (w.Kind == WorkloadKind.Training && key.StartsWith("Onnx", StringComparison.Ordinal))
                {
                    md.AppendLine(Inv, $"| {label} | not measured: the CPU package has no training | | | | | | |");
                }

                continue;
            }

            if (r.MeanNs is not { } mean)
            {
                md.AppendLine(Inv, $"| {label} | **failed**: {Escape(r.Error ?? "no result")} | | | | | | |");
                continue;
            }

            double gflops = w.FlopsPerCall / mean;
            string error = r.ErrorNs is { } e ? Time(e) : r.Note ?? "";
            string ratio = baseline is null ? "—" : key is Peer.Deepbox or Peer.Deepbox2 ? "1.00×" : Ratio(mean / baseline.Value);
            string percent = peak > 0 ? F(100 * gflops / (peak * threads), gflops / (peak * threads) < 0.01 ? 3 : 1) + "%" : "—";
            string allocated = key == Peer.Npm ? "not measured (JS heap)" : r.AllocatedBytes is { } a ? Bytes(a) : "—";
            md.AppendLine(Inv, $"| {label} | {Time(mean)} | {error} | {(r.MedianNs is { } med ? Time(med) : "")} | {ratio} | {F(gflops, gflops < 1 ? 3 : 2)} | {percent} | {allocated} |");
        }

        md.AppendLine();
    }

    /// <summary>What a column is compared with: Deepbox on 2 threads for the 2-thread columns where it ran, else on 1.</summary>
    private static double? Baseline(Dictionary<(string, string), Row> rows, Workload w, string key, int threads) =>
        threads == 2 && rows.TryGetValue((w.Name, Peer.Deepbox2), out Row? two) && two.MeanNs is { } t ? t
        : key == Peer.Deepbox2 ? null
        : rows.TryGetValue((w.Name, Peer.Deepbox), out Row? one) ? one.MeanNs : null;

    private static void WriteDecay(StringBuilder md, Dictionary<(string, string), Row> rows)
    {
        const string Name = nameof(Decay_Lstm);
        const double Target = 1.1;
        md.AppendLine(Inv, $"## Decaying state (LSTM({DecayWeights.Input}, {DecayWeights.Hidden}), {Decay_Lstm.Steps} steps per call)");
        md.AppendLine();
        md.AppendLine("Issue 7: a decaying state (input gone to zero for thousands of steps) must not slow a step by more than 1.1×. .NET has no");
        md.AppendLine("flush-to-zero switch, so the generated step flushes state values below 1e-30 to zero itself. `Decay_Lstm`");
        md.AppendLine(Inv, $"(`benchmarks/Deepbox.Benchmarks/Suites/DecaySuite.cs`): weights uniform in ±{DecayWeights.Scale.ToString(Inv)} (seeded), biases 0 except the forget gate's input");
        md.AppendLine(Inv, $"bias {DecayWeights.ForgetBias.ToString(Inv)} (f ≈ 0.95). **Steady**: input 0.5 in every feature, the state carried from call to call. **Decaying**: at the");
        md.AppendLine(Inv, $"start of every call the state is reset to h = 0.5, c = 1, then {Decay_Lstm.Steps} steps of zero input. The **control** rows (not Deepbox) run a");
        md.AppendLine("hand-written copy of the generated step without the flush (`UnflushedLstmControl`: the same weight panels, operations and");
        md.AppendLine("activations, checked to give Deepbox's state bit for bit until Deepbox flushes): what a subnormal state costs on this CPU.");
        md.AppendLine("Times are per step (BenchmarkDotNet's `OperationsPerInvoke`).");
        md.AppendLine();
        try
        {
            DecayProfile p = DecayProfile.Verify();
            md.AppendLine(Inv, $"One decaying call, step by step (recomputed by the report from the same weights): the largest |c| shrinks {p.DecayPerStep.ToString("F3", Inv)}× per step.");
            md.AppendLine(Inv, $"Deepbox's state holds a value below 1e-20 from step {p.DeepboxBelow1e20}, none smaller than {p.DeepboxSmallest.ToString("0.0E+0", Inv)}, and is exactly 0 from step {p.DeepboxZeroFrom} on;");
            md.AppendLine(Inv, $"it is never subnormal. The control's state is subnormal from step {p.ControlSubnormalFrom} on ({p.ControlSubnormalSteps} of {Decay_Lstm.Steps} steps)");
            md.AppendLine(p.ControlFinalLargest == 0
                ? "and reaches 0 by the end."
                : $"and never reaches 0: it ends between {p.ControlFinalSmallest.ToString("0.0E+0", Inv)} and {p.ControlFinalLargest.ToString("0.0E+0", Inv)}, a few subnormal units, which the forget gate's factor of about 0.95 rounds back to themselves.");
        }
        catch (InvalidOperationException e)
        {
            md.AppendLine(Inv, $"**The decay profile failed its check**: {Escape(e.Message)}");
        }

        md.AppendLine();
        md.AppendLine("| implementation | input | mean per step | ± error (99.9%) | median per step | allocated per step | decaying / steady |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        (double Mean, double Median)? Pair(string steady, string decaying, string label)
        {
            rows.TryGetValue((Name, steady), out Row? s);
            rows.TryGetValue((Name, decaying), out Row? d);
            foreach ((Row? r, string input) in new[] { (s, "steady (0.5)"), (d, "decaying (0)") })
            {
                if (r is null)
                {
                    continue;
                }

                if (r.MeanNs is not { } mean)
                {
                    md.AppendLine(Inv, $"| {label} | {input} | **failed**: {Escape(r.Error ?? "no result")} | | | | |");
                    continue;
                }

                string ratio = RatioCell(r, s, throughput: false);
                md.AppendLine(Inv, $"| {label} | {input} | {Time(mean)} | {(r.ErrorNs is { } e ? Time(e) : "")} | {(r.MedianNs is { } med ? Time(med) : "")} | {(r.AllocatedBytes is { } a ? Bytes(a) : "—")} | {ratio} |");
            }

            return s?.MeanNs is { } m0 && d?.MeanNs is { } m1 && s.MedianNs is { } med0 && d.MedianNs is { } med1 ? (m1 / m0, med1 / med0) : null;
        }

        (double Mean, double Median)? deepbox = Pair(nameof(Decay_Lstm.Steady), nameof(Decay_Lstm.Decaying), "Deepbox");
        (double Mean, double Median)? control = Pair(nameof(Decay_Lstm.SteadyWithoutFlush), nameof(Decay_Lstm.DecayingWithoutFlush), "control: same step, no flush");
        md.AppendLine();
        string verdict = deepbox is not { } db
            ? "**Verdict: none**: Deepbox's pair has no numbers in this run."
            : db.Mean <= Target
                ? $"**Verdict: within the target**: Deepbox's decaying step takes {Ratio(db.Mean)} its steady step (medians {Ratio(db.Median)}), at most {Ratio(Target)} allowed."
                : $"**Verdict: over the target**: Deepbox's decaying step takes {Ratio(db.Mean)} its steady step (medians {Ratio(db.Median)}), more than the {Ratio(Target)} allowed.";
        string controlText = control is not { } ct
            ? "The control has no numbers in this run."
            : ct.Mean < 1.05
                ? $"The control without the flush slows by {Ratio(ct.Mean)} (medians {Ratio(ct.Median)}): in this run the CPU shows no notable subnormal penalty, so the pair says little about what the flush saves."
                : $"The control without the flush: {Ratio(ct.Mean)} (medians {Ratio(ct.Median)}), the cost of the subnormal steps on this CPU.";
        md.AppendLine(verdict + " " + controlText);
        md.AppendLine();
    }

    /// <summary>Issue 19's rows: a pass with lengths against the same pass padded (the time should follow the valid steps) and against libtorch's packed path.</summary>
    private static void WriteLengths(StringBuilder md, Dictionary<(string, string), Row> rows, string name, double peak)
    {
        Workload w = LengthsWorkload.ShapeOf(name);
        int[] lengths = LengthsWorkload.LengthsOf(name);
        bool training = name is nameof(W3_Lstm_Lengths) or nameof(W2_Train_Lengths);
        double valid = LengthsWorkload.Fraction(w, lengths);
        const double CostTarget = 1.15;
        const double PeerTarget = 4;
        md.AppendLine(Inv, $"## {name}: {(training ? "a training step" : "a forward pass")} of LSTM({w.InputSize}, {w.HiddenSize}), B={w.Batch}, T={w.SeqLen}, lengths in [{w.SeqLen / 4}, {w.SeqLen}]");
        md.AppendLine();
        md.AppendLine(Inv, $"The sequences' lengths are drawn uniformly in [{w.SeqLen / 4}, {w.SeqLen}] (seeded; `LengthsWorkload` in `benchmarks/Deepbox.Benchmarks/Suites/LengthsSuite.cs`):");
        md.AppendLine(Inv, $"{lengths.Sum()} valid steps of {w.Batch * w.SeqLen}, a valid fraction of {valid.ToString("F3", Inv)}. **Deepbox** runs them with lengths, **Padded** runs the same");
        if (LengthsWorkload.IsW2(name))
        {
            md.AppendLine(training
                ? "batch without (every sequence the full T steps); each is a training step: `Forward`, `Losses.Mse` (masked by the lengths for Deepbox), `Backward`, `Adam.Step`. The setup checks the loss with lengths against the padded pass's valid steps."
                : "batch without (every sequence the full T steps). The setup checks that the valid steps' outputs are the padded pass's.");
            md.AppendLine("(libtorch's packed path is timed at W1's and W3's size.)");
        }
        else
        {
            md.AppendLine("batch without (every sequence the full T steps), **LibTorchPacked** is PyTorch's way: `pack_padded_sequence(enforce_sorted=False)`,");
            md.AppendLine(training
            ? "`nn.LSTM`, `pad_packed_sequence(total_length=T)`, the MSE over the valid steps, `backward`, `Adam.step`. The setup checks Deepbox's loss and every gradient against libtorch's packed pass."
            : "`nn.LSTM`, `pad_packed_sequence(total_length=T)` under `no_grad`. The setup checks Deepbox's output against libtorch's packed pass.");
        }

        md.AppendLine();
        md.AppendLine("| benchmark | mean | ± error (99.9%) | median | GFLOP/s (valid steps) | allocated | time / Deepbox |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        rows.TryGetValue((name, "Deepbox"), out Row? deepbox);
        long flops = w.FlopsPerStep * lengths.Sum() * (training ? 3 : 1);
        foreach (string peer in new[] { "Deepbox", "Deepbox_2T", "Padded", "Padded_2T", "LibTorchPacked_1T", "LibTorchPacked_2T" })
        {
            if (!rows.TryGetValue((name, peer), out Row? r))
            {
                continue;
            }

            if (r.MeanNs is not { } mean)
            {
                md.AppendLine(Inv, $"| {peer} | **failed**: {Escape(r.Error ?? "no result")} | | | | | |");
                continue;
            }

            string gflops = peer.StartsWith("Padded", StringComparison.Ordinal) ? "—" : (flops / mean).ToString("F1", Inv);
            md.AppendLine(Inv, $"| {peer} | {Time(mean)} | {(r.ErrorNs is { } e ? Time(e) : "")} | {(r.MedianNs is { } med ? Time(med) : "")} | {gflops} | {(r.AllocatedBytes is { } a ? Bytes(a) : "—")} | {RatioCell(r, deepbox, throughput: false)} |");
        }

        md.AppendLine();
        md.AppendLine(Inv, $"Targets (issue 19): with lengths, at most {Ratio(CostTarget)} the valid fraction of the padded time ({(CostTarget * valid).ToString("F3", Inv)}), on 1 and 2 threads; at least {Ratio(PeerTarget)} faster than libtorch's packed path. GFLOP/s count the valid steps only; the machine's FMA peak is {peak.ToString("F1", Inv)} GFLOP/s.");
        md.AppendLine();
        foreach ((string withLengths, string padded, string torch) in new[] { ("Deepbox", "Padded", "LibTorchPacked_1T"), ("Deepbox_2T", "Padded_2T", "LibTorchPacked_2T") })
        {
            if (rows.TryGetValue((name, withLengths), out Row? l) && l.MeanNs is { } lm)
            {
                string cost = rows.TryGetValue((name, padded), out Row? p) && p.MeanNs is { } pm
                    ? $"{(lm / pm).ToString("F3", Inv)} of {padded}'s time ({(lm / pm <= CostTarget * valid ? "within" : "over")} the {(CostTarget * valid).ToString("F3", Inv)} wanted)"
                    : "no padded time";
                string peer = rows.TryGetValue((name, torch), out Row? t) && t.MeanNs is { } tm
                    ? $"{torch} takes {Ratio(tm / lm)} its time ({(tm / lm >= PeerTarget ? "within" : "under")} the {Ratio(PeerTarget)} wanted)"
                    : $"no {torch} time";
                md.AppendLine(Inv, $"- **{withLengths}**: {cost}; {peer}.");
            }
        }

        md.AppendLine();
    }

    private static void WriteConcurrency(StringBuilder md, Dictionary<(string, string), Row> rows)
    {
        const string Name = nameof(W1_Concurrent);
        const double Target = 1.8;
        const int Calls = W1_Concurrent.Calls;
        Workload w = Workload.ByName(nameof(W1_Lstm));
        md.AppendLine(Inv, $"## Concurrent callers (one {w.Cell.ToString().ToUpperInvariant()}({w.InputSize}, {w.HiddenSize}) instance, B={w.Batch}, T={w.SeqLen}, {Calls} calls per benchmark call)");
        md.AppendLine();
        md.AppendLine("Evaluation-mode `Forward` may be called from any number of threads on one model instance at once (each pass takes a");
        md.AppendLine("pooled workspace of its own). `W1_Concurrent` (`benchmarks/Deepbox.Benchmarks/Suites/ConcurrencySuite.cs`) times one");
        md.AppendLine(Inv, $"W1 model in `Eval()` mode with `Threads = 1`, span `Forward` on W1's input: **one caller** makes {Calls} calls in a row;");
        md.AppendLine(Inv, $"**two callers** make {Calls / 2} each at the same time, on the benchmark thread and on a persistent worker thread, every");
        md.AppendLine(Inv, $"caller with input and output arrays of its own. The setup checks, bit for bit, that {W1_Concurrent.CheckRounds} rounds of calls from two");
        md.AppendLine("callers at once give exactly the output of one sequential call. Two callers need two cores: this machine has");
        md.AppendLine(Inv, $"{Environment.ProcessorCount} logical cores, and any other process running takes its share from the second caller.");
        md.AppendLine();
        md.AppendLine(Inv, $"| callers | mean ({Calls} calls) | ± error (99.9%) | median | mean per call | calls per second | allocated ({Calls} calls) | throughput / one caller |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        rows.TryGetValue((Name, nameof(W1_Concurrent.OneCaller)), out Row? one);
        foreach ((string key, string label) in new[] { (nameof(W1_Concurrent.OneCaller), "one caller"), (nameof(W1_Concurrent.TwoCallers), "two callers at once") })
        {
            if (!rows.TryGetValue((Name, key), out Row? r))
            {
                continue;
            }

            if (r.MeanNs is not { } mean)
            {
                md.AppendLine(Inv, $"| {label} | **failed**: {Escape(r.Error ?? "no result")} | | | | | | |");
                continue;
            }

            string ratio = RatioCell(r, one, throughput: true);
            md.AppendLine(Inv, $"| {label} | {Time(mean)} | {(r.ErrorNs is { } e ? Time(e) : "")} | {(r.MedianNs is { } med ? Time(med) : "")} | {Time(mean / Calls)} | {(Calls * 1e9 / mean).ToString("N0", Inv)} | {(r.AllocatedBytes is { } a ? Bytes(a) : "—")} | {ratio} |");
        }

        md.AppendLine();
        double? speedup = one?.MeanNs is { } m1 && rows.TryGetValue((Name, nameof(W1_Concurrent.TwoCallers)), out Row? two) && two.MeanNs is { } m2 ? m1 / m2 : null;
        md.AppendLine(speedup switch
        {
            null => "**Verdict: none**: the pair has no numbers in this run.",
            >= Target => $"**Verdict: within the target**: two callers on one instance make {Ratio(speedup.Value)} the calls per second of one, at least {Ratio(Target)} wanted.",
            _ => $"**Verdict: under the target**: two callers on one instance make {Ratio(speedup.Value)} the calls per second of one, less than the {Ratio(Target)} wanted.",
        });
        md.AppendLine();
    }

    private static void WriteMethod(StringBuilder md)
    {
        md.AppendLine("## What each implementation runs");
        md.AppendLine();
        md.AppendLine("- **Deepbox**: the models are declared with attributes in `benchmarks/Deepbox.Benchmarks/Models.cs` (one class per workload, so every size is a constant of the generated code), weights loaded with `LoadStateDict`. Forward: the span `Forward(input, batch, seqLen, output)` in `Eval()` mode; streaming: `Step(x, state, y)` with a `ModelState` carried from call to call; training: span `Forward`, `Losses.Mse`, `Adam.ZeroGrad()`, span `Backward` (no input gradient) and `Adam.Step()` (lr 1e-3). One thread, except the \"Deepbox, 2 threads\" rows (forward workloads and W3): `Threads = 2`, the batch cut into two sub-batches of whole sequences, the caller and one persistent worker each running every layer on one in a workspace of its own (in W3's backward pass, each sub-batch back through time on the thread that ran its forward pass, then each weight gradient split by columns over both sub-batches' rows).");
        md.AppendLine("- **libtorch**: `nn.RNN`/`nn.LSTM`/`nn.GRU` (batch-first) with explicit zero `h0`/`c0`, inside `torch.no_grad()` and a dispose scope that frees the call's tensors; streaming: `nn.LSTMCell`/`nn.GRUCell` on `[1, I]` under `no_grad`, the state tensors carried and the old ones disposed; training: `zero_grad()`, forward, `mse_loss`, `backward()`, `torch.optim.Adam.step()`. The output stays a libtorch tensor (not copied out).");
        md.AppendLine("- **ONNX Runtime**: graphs written by the suite's own protobuf writer (`benchmarks/Deepbox.Benchmarks/Onnx`, the start of an ONNX export for Deepbox models) with PyTorch's weights reordered to ONNX's gate order (LSTM i, o, f, c; GRU z, r, h with `linear_before_reset = 1`; biases `[Wb, Rb]`). Its CPU LSTM/GRU/RNN kernels take sequence-first tensors only, so the whole-sequence graph is `Transpose → LSTM → Squeeze → Transpose` with batch-first input and output, zero initial states bound as inputs. Every call is `RunWithBinding` on a pre-bound `OrtIoBinding` over pinned arrays (nothing allocated); streaming runs a one-step graph and alternates two bindings so that each step's state output is the next step's input.");
        md.AppendLine("- **deepbox (npm)**: `benchmarks/deepbox/bench.mjs`, `nn.RNN`/`nn.LSTM`/`nn.GRU` with `batchFirst: true`, weights from `loadStateDict`; forward under `noGrad`; streaming `forwardWithState` on `[1, 1, I]` under `noGrad`, the state `.detach()`ed each step; training `zeroGrad`, forward, `mseLoss`, `backward`, `optim.Adam.step`. Timed with `process.hrtime` after warm-up calls (its error column is the sample count and standard deviation).");
        md.AppendLine();
    }

    private static void WriteReading(StringBuilder md)
    {
        md.AppendLine("## Reading the numbers");
        md.AppendLine();
        md.AppendLine("- **Ratio** is the peer's mean over Deepbox's mean on the same workload in the same run: above 1× the peer is slower.");
        md.AppendLine("- **GFLOP/s** counts the cell's multiply-adds only (the formula above), not activations or copies, so streaming steps and tiny batches are far from the peak by nature.");
        md.AppendLine("- **2-thread rows** need the machine's second core: when another process holds it, every parallel region waits for a time slice, which shows as a mean far above the median and a huge error (libtorch's OpenMP team suffers most). Compare medians, and rerun on a quiet machine.");
        md.AppendLine("- **Allocated per call** is BenchmarkDotNet's process-wide count divided by the calls of an iteration. For calls of milliseconds an iteration holds one or a few calls, so tens to thousands of bytes of background allocation (the runtime's tiered JIT, the harness) can land on them: Deepbox's span `Forward`, `Step` and training step allocate nothing once warm (`tests/Deepbox.Tests/StreamingTests.cs` asserts 0 bytes on the calling thread), as does ONNX Runtime's `RunWithBinding`. libtorch's bytes are TorchSharp's managed tensor wrappers.");
        md.AppendLine();
    }

    private static void WriteChecks(StringBuilder md, JsonElement? checks, JsonElement? npm)
    {
        md.AppendLine("## Agreement with Deepbox");
        md.AppendLine();
        md.AppendLine("Largest absolute difference from Deepbox's outputs over the whole output (streaming: over 8 steps from a zero state);");
        md.AppendLine("W3 also compares the loss and, relative to their largest magnitude, every parameter's gradient. Tolerance 1e-4.");
        md.AppendLine();
        md.AppendLine("| workload | libtorch | ONNX Runtime | deepbox (npm) |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        var worst = new Dictionary<(string Workload, string Peer), string>();
        if (checks is not null)
        {
            foreach (JsonElement c in checks.Value.EnumerateArray())
            {
                string[] label = c.GetProperty("label").GetString()!.Split('/');
                string peer = label[1].StartsWith("LibTorch", StringComparison.Ordinal) ? "torch" : label[1].StartsWith("Onnx", StringComparison.Ordinal) ? "ort" : "other";
                string what = c.GetProperty("what").GetString()!;
                bool relative = c.GetProperty("relative").GetBoolean();
                double d = c.GetProperty("difference").GetDouble();
                string key = relative ? "gradients" : what;
                string text = $"{d.ToString("0.0E+0", Inv)} ({(relative ? "gradients, relative" : key)})";
                (string, string) k = (label[0], peer);
                if (!worst.TryGetValue(k, out string? existing) || Compare(text, existing) > 0)
                {
                    worst[k] = text;
                }
            }
        }

        if (npm is not null)
        {
            foreach (JsonElement r in npm.Value.GetProperty("results").EnumerateArray())
            {
                string wl = r.GetProperty("workload").GetString()!;
                worst[(wl, "npm")] = r.TryGetProperty("maxAbsDiff", out JsonElement d) && d.ValueKind == JsonValueKind.Number
                    ? d.GetDouble().ToString("0.0E+0", Inv) + (r.TryGetProperty("relativeGradientDiff", out JsonElement g) ? $"; gradients {g.GetDouble().ToString("0.0E+0", Inv)} relative" : "")
                    : "failed";
            }
        }

        foreach (Workload w in Workload.All.Where(w => worst.Keys.Any(k => k.Workload == w.Name)))
        {
            string Cell(string peer) => worst.TryGetValue((w.Name, peer), out string? t) ? t : "—";
            md.AppendLine(Inv, $"| {w.Name} | {Cell("torch")} | {Cell("ort")} | {Cell("npm")} |");
        }

        md.AppendLine();
        md.AppendLine("Differences of 1e-8 to 1e-6 are float32 rounding (different summation orders and activation approximations); a peer over 1e-4 would be reported as failed instead of timed.");
    }

    private static int Compare(string a, string b) =>
        double.Parse(a.Split(' ')[0], Inv).CompareTo(double.Parse(b.Split(' ')[0], Inv));

    private static JsonElement? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    private static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A time in ns, µs, ms or s with three significant digits.</summary>
    public static string Time(double ns) => ns switch
    {
        < 1e3 => F3(ns) + " ns",
        < 1e6 => F3(ns / 1e3) + " µs",
        < 1e9 => F3(ns / 1e6) + " ms",
        _ => F3(ns / 1e9) + " s",
    };

    private static string F3(double v) => v >= 100 ? v.ToString("F0", Inv) : v >= 10 ? v.ToString("F1", Inv) : v.ToString("F2", Inv);

    private static string F(double v, int decimals) => v.ToString("F" + decimals.ToString(Inv), Inv);

    /// <summary>
    /// A row's ratio to its baseline row, of means and of medians: time over the baseline's, or (<paramref name="throughput"/>)
    /// the baseline's time over the row's, i.e. calls per second over the baseline's.
    /// </summary>
    private static string RatioCell(Row r, Row? baseline, bool throughput)
    {
        if (ReferenceEquals(r, baseline))
        {
            return "1.00× (baseline)";
        }

        if (r.MeanNs is not { } mean || baseline?.MeanNs is not { } baseMean)
        {
            return "—";
        }

        double Of(double row, double b) => throughput ? b / row : row / b;
        string medians = r.MedianNs is { } rm && baseline.MedianNs is { } bm ? Ratio(Of(rm, bm)) : "—";
        return $"**{Ratio(Of(mean, baseMean))}** (medians {medians})";
    }

    private static string Ratio(double r) => (r >= 100 ? r.ToString("N0", Inv) : r >= 10 ? r.ToString("F1", Inv) : r.ToString("F2", Inv)) + "×";

    private static string Bytes(long b) => b switch
    {
        0 => "0 B",
        < 10_000 => $"{b.ToString(Inv)} B",
        < 10_000_000 => $"{(b / 1024.0).ToString("F1", Inv)} KiB",
        _ => $"{(b / 1048576.0).ToString("F1", Inv)} MiB",
    };

    private static string FlopsText(long flops) => flops switch
    {
        < 1_000_000 => $"{flops.ToString("N0", Inv)} FLOPs",
        < 1_000_000_000 => $"{(flops / 1e6).ToString("F2", Inv)} MFLOP",
        _ => $"{(flops / 1e9).ToString("F2", Inv)} GFLOP",
    };

    private static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static string CpuModel()
    {
        try
        {
            string[] lines = File.ReadAllLines("/proc/cpuinfo");
            string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l[name.Length..].TrimStart().StartsWith(':'))?.Split(':', 2)[1].Trim() ?? "?";
            string flags = Field("flags");
            string avx = flags.Contains("avx512f", StringComparison.Ordinal) ? "AVX-512 (avx512f)" : flags.Contains("avx2", StringComparison.Ordinal) ? "AVX2" : "no AVX2";
            return $"{Field("model name")} (/proc/cpuinfo: vendor {Field("vendor_id")}, family {Field("cpu family")}, model {Field("model")}, stepping {Field("stepping")}, {Field("cache size")} cache), {avx}";
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    private static string MemoryGiB() =>
        (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024)).ToString("F0", Inv);

    private static string GitCommit()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true });
            string s = p!.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && s.Length > 0 ? s : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    private sealed record Row(double? MeanNs, double? ErrorNs, double? MedianNs, long? AllocatedBytes, string? Error, string? Note);
}
