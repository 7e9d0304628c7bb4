using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// The generated source of canonical models, kept as snapshots: each model's file, and one kernel file (the LSTM family
/// of the seed LSTM; every model's kernels run in the numeric tests). Each is also compiled with every warning on (zero
/// diagnostics), and generated again under a culture whose minus sign is U+2212 (the emitted text must not change).
/// </summary>
public class SnapshotTests
{
    [Fact]
    public void SeedRnn() => Check("[Rnn(4, 8, BatchFirst = true)] public partial class SeedRnn;");

    [Fact]
    public void SeedLstm() => Check("[Lstm(4, 8, BatchFirst = true)] public partial class SeedLstm;");

    [Fact]
    public void SeedGru() => Check("[Gru(4, 8, BatchFirst = true)] public partial class SeedGru;");

    [Fact]
    public void BidirectionalGru() => Check("[Gru(9, 17, NumLayers = 2, Bidirectional = true)] public partial class BiGru;");

    [Fact]
    public void Forecaster() => Check("[Lstm(1, 32, NumLayers = 2, Dropout = 0.1f, Name = \"lstm\")]\n[LastStep]\n[Linear(32, 1, Name = \"fc\")]\npublic partial class Forecaster;");

    [Fact]
    public void CharModel() => Check("[Embedding(65, 16, PaddingIdx = 0, Name = \"embedding\")]\n[Lstm(16, 32, Name = \"lstm\")]\n[Linear(32, 65, Name = \"head\")]\npublic partial class CharModel;");

    [Fact]
    public void ReluRnnWithoutBias() => Check("[Rnn(3, 5, Bias = false, Nonlinearity = Nonlinearity.Relu, BatchFirst = false)] public partial class ReluRnn;");

    /// <summary>The LSTM kernels of the seed LSTM, with the compilation's name in their namespace written as <c>Snapshots</c>.</summary>
    [Fact]
    public void SeedLstmKernels()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run("using Deepbox;\nnamespace Snapshots;\n[Lstm(4, 8, BatchFirst = true)] public partial class SeedLstm;");
        Assert.True(result.AllDiagnostics.Count == 0, result.Describe());
        const string Hint = "Deepbox.Kernels.Lstm.g.cs";
        Snapshot.Verify(Neutral(result.KernelSources[Hint], result), Hint, nameof(SnapshotTests));
    }

    private static void Check(string declaration, [System.Runtime.CompilerServices.CallerMemberName] string method = "")
    {
        string source = "using Deepbox;\nnamespace Snapshots;\n" + declaration;
        GeneratorHarness.Result result = GeneratorHarness.Run(source);
        Assert.True(result.AllDiagnostics.Count == 0, result.Describe());
        GeneratedSourceResult generated = Assert.Single(result.Run.Results.SelectMany(r => r.GeneratedSources), s => !s.HintName.StartsWith("Deepbox.Kernels", System.StringComparison.Ordinal));

        GeneratorHarness.Result rerun = TestSupport.UnderOddCulture(() => GeneratorHarness.Run(source));
        Assert.Equal(generated.SourceText.ToString(), Assert.Single(rerun.ModelSources).Replace(rerun.Output.AssemblyName!, result.Output.AssemblyName!, System.StringComparison.Ordinal));

        // The model's file names the compilation's kernel class, whose namespace carries the compilation's name.
        Snapshot.Verify(Neutral(generated.SourceText.ToString(), result), generated.HintName, nameof(SnapshotTests), method);
    }

    /// <summary>
    /// The text as a snapshot keeps it: the compilation's name (in the kernels' namespace) as <c>Snapshots</c>, and the
    /// generator's version as <c>%VERSION%</c> (as System.Text.Json's baselines do), so a release changes no snapshot.
    /// </summary>
    private static string Neutral(string text, GeneratorHarness.Result result)
    {
        string version = typeof(Generators.DeepboxGenerator).Assembly.GetName().Version!.ToString();
        return text
            .Replace(result.Output.AssemblyName!, "Snapshots", System.StringComparison.Ordinal)
            .Replace($"GeneratedCode(\"Deepbox.Generators\", \"{version}\")", "GeneratedCode(\"Deepbox.Generators\", \"%VERSION%\")", System.StringComparison.Ordinal);
    }
}
