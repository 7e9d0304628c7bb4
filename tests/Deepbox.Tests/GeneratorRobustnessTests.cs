using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Declarations the generator cannot compile: no generator exception, no code emitted for the model, and the DBX
/// error is the only message (no cascade of CS errors). The full diagnostic suite comes with the diagnostics issue.
/// </summary>
public class GeneratorRobustnessTests
{
    [Theory]
    [InlineData("[Lstm(4, 8)] public class NotPartial;", "DBX0001")]
    [InlineData("public class Outer { [Lstm(4, 8)] public partial class Inner; }", "DBX0002")]
    [InlineData("[Lstm(4, 8)] public partial class Generic<T>;", "DBX0003")]
    [InlineData("[Lstm(0, 8)] public partial class ZeroInput;", "DBX0004")]
    [InlineData("[Lstm(4, -3)] public partial class NegativeHidden;", "DBX0004")]
    [InlineData("[Lstm(4, 8, NumLayers = 0)] public partial class NoLayers;", "DBX0004")]
    [InlineData("[Lstm(4, 8)][Linear(9, 1)] public partial class Mismatch;", "DBX0005")]
    [InlineData("[Gru(4, 8, Bidirectional = true)][Linear(8, 1)] public partial class BiMismatch;", "DBX0005")]
    [InlineData("[Lstm(4, 8, NumLayers = 2, Dropout = 1f)] public partial class BadDropout;", "DBX0006")]
    [InlineData("[Lstm(4, 8)][Gru(8, 8, BatchFirst = false)] public partial class MixedLayout;", "DBX0007")]
    [InlineData("[Lstm(4, 8)][LastStep][LastStep] public partial class TwoLastSteps;", "DBX0008")]
    [InlineData("[Lstm(4, 8)][LastStep][Gru(8, 8)] public partial class AfterLastStep;", "DBX0009")]
    [InlineData("[LastStep] public partial class OnlyLastStep;", "DBX0010")]
    [InlineData("[Lstm(4, 8, Name = \"a.b\")] public partial class DottedName;", "DBX0011")]
    [InlineData("[Lstm(4, 8, Name = \"x\")][Linear(8, 1, Name = \"x\")] public partial class SameName;", "DBX0012")]
    [InlineData("[Lstm(4, 8)] public static partial class StaticModel;", "DBX0014")]
    public void BadDeclarationGivesOnlyItsDiagnostic(string declaration, string id)
    {
        GeneratorHarness.Result result = GeneratorHarness.Run("using Deepbox;\nnamespace User;\n" + declaration);
        Assert.All(result.Run.Results, r => Assert.Null(r.Exception));
        Assert.Empty(result.GeneratedSources);
        var errors = result.AllDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.NotEmpty(errors);
        Assert.All(errors, d => Assert.StartsWith("DBX", d.Id, System.StringComparison.Ordinal));
        Assert.Contains(errors, d => d.Id == id);
    }

    [Fact]
    public void DropoutOnOneLayerIsAWarningAndCodeIsEmitted()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run("using Deepbox;\n[Lstm(4, 8, Dropout = 0.5f)] public partial class M;");
        Diagnostic d = Assert.Single(result.AllDiagnostics);
        Assert.Equal("DBX0015", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Single(result.GeneratedSources);
    }

    [Fact]
    public void ModelInTheGlobalNamespaceAndNestedCompileCleanly()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(
            "using Deepbox;\n[Gru(3, 5)] public partial class G;\nnamespace A.B { public partial class O { internal partial class P { [Rnn(2, 3)][LastStep] private sealed partial class R; } } }");
        Assert.True(result.AllDiagnostics.Count == 0, result.Describe());
        Assert.Equal(2, result.GeneratedSources.Count());
    }
}
