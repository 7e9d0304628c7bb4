using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Reflection;
using Deepbox.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// The generator's incremental contract: an edit elsewhere regenerates nothing, an edit to one model's attribute
/// regenerates that model only, and the pipeline carries plain equatable values.
/// </summary>
public class IncrementalTests
{
    private const string ModelA = "using Deepbox;\nnamespace User;\n[Lstm(4, 8)]\n[LastStep]\n[Linear(8, 2)]\npublic partial class A;\n";
    private const string ModelB = "using Deepbox;\nnamespace User;\n[Gru(3, 5, Bidirectional = true)]\npublic partial class B;\n";
    private const string Other = "namespace User;\npublic class Helper\n{\n    public int Twice(int x) => x * 2;\n}\n";

    private static readonly string[] Steps = [DeepboxGenerator.ParseStep, DeepboxGenerator.SpecStep];

    [Fact]
    public void SameSourceTwiceGivesEqualSpecs()
    {
        GeneratorHarness.Result first = GeneratorHarness.Run(ModelA, ModelB);
        GeneratorHarness.Result second = GeneratorHarness.Run(ModelA, ModelB);
        object[] a = StepValues(first.Run, DeepboxGenerator.SpecStep).ToArray();
        object[] b = StepValues(second.Run, DeepboxGenerator.SpecStep).ToArray();
        Assert.Equal(2, a.Length);
        Assert.Equal(a, b);
        Assert.Equal(a.Select(x => x.GetHashCode()), b.Select(x => x.GetHashCode()));
        Assert.Equal(first.NeutralSources, second.NeutralSources);
    }

    [Fact]
    public void UnrelatedEditsRegenerateNothing()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(ModelA, ModelB, Other);
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(compilation);

        // A new, unrelated class in a new file.
        CSharpCompilation withClass = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace User; public class Unrelated { }", GeneratorHarness.ParseOptions));
        driver = driver.RunGenerators(withClass);
        AssertNothingRegenerated(driver.GetRunResult());

        // A changed method body.
        SyntaxTree other = withClass.SyntaxTrees.Single(t => t.ToString().Contains("Helper", StringComparison.Ordinal));
        CSharpCompilation withBody = withClass.ReplaceSyntaxTree(other, CSharpSyntaxTree.ParseText(Other.Replace("x * 2", "x + x", StringComparison.Ordinal), GeneratorHarness.ParseOptions, other.FilePath));
        driver = driver.RunGenerators(withBody);
        AssertNothingRegenerated(driver.GetRunResult());

        // An edit below the model in the model's own file.
        SyntaxTree a = withBody.SyntaxTrees.Single(t => t.ToString().Contains("class A", StringComparison.Ordinal));
        CSharpCompilation withComment = withBody.ReplaceSyntaxTree(a, CSharpSyntaxTree.ParseText(ModelA + "public class AlsoHere { }\n", GeneratorHarness.ParseOptions, a.FilePath));
        driver = driver.RunGenerators(withComment);
        AssertNothingRegenerated(driver.GetRunResult());
    }

    [Fact]
    public void EditingOneModelRegeneratesOnlyThatModel()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(ModelA, ModelB, Other);
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(compilation);
        SyntaxTree b = compilation.SyntaxTrees.Single(t => t.ToString().Contains("class B", StringComparison.Ordinal));
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(b, CSharpSyntaxTree.ParseText(ModelB.Replace("Gru(3, 5", "Gru(3, 6", StringComparison.Ordinal), GeneratorHarness.ParseOptions, b.FilePath));
        driver = driver.RunGenerators(edited);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();

        var specs = run.TrackedSteps[DeepboxGenerator.SpecStep].SelectMany(s => s.Outputs).ToList();
        Assert.Contains(specs, o => Name(o.Value) == "B" && o.Reason is IncrementalStepRunReason.Modified or IncrementalStepRunReason.New);
        Assert.All(specs.Where(o => Name(o.Value) == "A"), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"A: {o.Reason}"));
        Assert.Contains("GRU(3, 6, num_layers=1)", run.GeneratedSources.Single(s => s.HintName.Contains(".B.", StringComparison.Ordinal)).SourceText.ToString(), StringComparison.Ordinal);

        // Of the shared kernel files, the GRU family's is rewritten (B's kernels changed shape); the LSTM family's, which
        // only A uses, is not.
        IncrementalStepRunReason Family(string family) =>
            run.TrackedSteps[DeepboxGenerator.KernelFileStep + "." + family].SelectMany(s => s.Outputs).Single().Reason;
        Assert.Equal(IncrementalStepRunReason.Modified, Family("Gru"));
        Assert.True(Family("Lstm") is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"Lstm: {Family("Lstm")}");
        Assert.Contains("GruSequence_H6(", run.GeneratedSources.Single(s => s.HintName == "Deepbox.Kernels.Gru.g.cs").SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void PipelineCarriesNoRoslynObjects()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(ModelA, ModelB, "using Deepbox;\n[Lstm(4, 8, NumLayers = 2, Dropout = 2f)] public partial class Bad;");
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        int visited = 0;
        foreach (string step in Steps)
        {
            foreach (object value in StepValues(result.Run, step))
            {
                Walk(value, seen, ref visited, step);
            }
        }

        Assert.True(visited > 10, $"walked only {visited} objects");
    }

    private static void AssertNothingRegenerated(GeneratorDriverRunResult runResult)
    {
        GeneratorRunResult run = runResult.Results.Single();
        foreach (string step in Steps)
        {
            Assert.True(run.TrackedSteps.ContainsKey(step), $"step {step} not tracked");
            Assert.All(run.TrackedSteps[step].SelectMany(s => s.Outputs), o =>
                Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {o.Reason}"));
        }

        Assert.All(run.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs), o =>
            Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output: {o.Reason}"));
    }

    private static IEnumerable<object> StepValues(GeneratorDriverRunResult run, string step) =>
        run.Results.Single().TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Value);

    private static string Name(object spec) => ((ModelSpec)spec).ClassName;

    /// <summary>Walks an object graph through fields and fails on any Roslyn object that would defeat caching.</summary>
    private static void Walk(object? value, HashSet<object> seen, ref int visited, string path)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
        {
            return;
        }

        visited++;
        Assert.False(
            value is ISymbol or SyntaxNode or Compilation or Location or SemanticModel or SyntaxTree,
            $"{path} holds a {value.GetType().Name}");
        if (value is IEnumerable sequence)
        {
            foreach (object? item in sequence)
            {
                Walk(item, seen, ref visited, path + "[]");
            }

            if (value.GetType().IsGenericType && value.GetType().GetGenericTypeDefinition() == typeof(ImmutableArray<>))
            {
                return;
            }
        }

        foreach (FieldInfo field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            Walk(field.GetValue(value), seen, ref visited, path + "." + field.Name);
        }
    }
}
