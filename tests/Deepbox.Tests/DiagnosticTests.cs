using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using CsCheck;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// Every diagnostic: the bad declaration, its id, severity, message and span (marked <c>[| |]</c> in the source).
/// A declaration with errors emits no code, and the DBX errors are the only errors (no cascade of CS errors).
/// </summary>
public class DiagnosticTests
{
    public static TheoryData<string, string, string> Errors => new()
    {
        { "[Lstm(4, 8)] public class [|NotPartial|];", "DBX0001", "Class 'NotPartial' has Deepbox layer attributes but is not partial; declare it 'partial class NotPartial'" },
        { "public class Outer { [Lstm(4, 8)] public partial class [|Inner|]; }", "DBX0002", "Class 'Inner' is nested in 'Outer', which is not partial; declare 'Outer' partial" },
        { "[Lstm(4, 8)] public partial class [|Generic|]<T>;", "DBX0003", "Class 'Generic' is generic; a Deepbox model has fixed sizes, remove the type parameters" },
        { "[Lstm([|0|], 8)] public partial class M;", "DBX0004", "[Lstm] inputSize is 0; it must be between 1 and 65536 (one weight matrix of 65536 x 65536 floats already takes 16 GiB)" },
        { "[Gru(4, [|hiddenSize: -3|])] public partial class M;", "DBX0004", "[Gru] hiddenSize is -3; it must be between 1 and 65536 (one weight matrix of 65536 x 65536 floats already takes 16 GiB)" },
        { "[Rnn(4, 8, [|NumLayers = 0|])] public partial class M;", "DBX0004", "[Rnn] NumLayers is 0; it must be between 1 and 64 (deeper stacks do not train and only grow the generated code)" },
        { "[Linear([|70000|], 2)] public partial class M;", "DBX0004", "[Linear] inFeatures is 70000; it must be between 1 and 65536 (one weight matrix of 65536 x 65536 floats already takes 16 GiB)" },
        { "[Lstm(4, 8)][Linear([|9|], 1)] public partial class M;", "DBX0005", "[Linear] takes inFeatures = 9, but the layer before it gives 8; set inFeatures to 8" },
        { "[Gru(4, 8, Bidirectional = true)][LastStep][Linear([|8|], 1)] public partial class M;", "DBX0005", "[Linear] takes inFeatures = 8, but the layer before it gives 16 (2 x hiddenSize 8: it is bidirectional); set inFeatures to 16" },
        { "[Lstm(4, 8, NumLayers = 2, [|Dropout = 1f|])] public partial class M;", "DBX0006", "[Lstm] Dropout is 1; it must be at least 0 and less than 1" },
        { "[Gru(4, 8, NumLayers = 2, [|Dropout = -0.1f|])] public partial class M;", "DBX0006", "[Gru] Dropout is -0.1; it must be at least 0 and less than 1" },
        { "[Lstm(4, 8)][Gru(8, 8, [|BatchFirst = false|])] public partial class M;", "DBX0007", "[Gru] BatchFirst = false differs from the model's first recurrent layer (true); use one layout for the whole model" },
        { "[Lstm(4, 8)][LastStep][[|LastStep|]] public partial class TwoLastSteps;", "DBX0008", "[LastStep] appears more than once on 'TwoLastSteps'; keep one" },
        { "[Lstm(4, 8)][LastStep][[|Gru(8, 8)|]] public partial class M;", "DBX0009", "[Gru] comes after [LastStep], which removed the time dimension; move [LastStep] after the recurrent layers" },
        { "[LastStep] public partial class [|OnlyLastStep|];", "DBX0010", "Class 'OnlyLastStep' has no Rnn, Lstm, Gru or Linear layer; declare at least one" },
        { "[Lstm(4, 8, [|Name = \"a.b\"|])] public partial class M;", "DBX0011", "[Lstm] Name = \"a.b\" cannot prefix parameter names; use letters, digits and '_' without '.'" },
        { "[Lstm(4, 8, Name = \"x\")][Linear(8, 1, [|Name = \"x\"|])] public partial class M;", "DBX0012", "[Linear] Name = \"x\" is used by another layer; parameter names must be unique" },
        { "[Lstm(4, 8)] public static partial class [|StaticModel|];", "DBX0014", "Class 'StaticModel' is static; a model has instance state, remove 'static'" },
        { "[Lstm(4, 8)] public partial class [|Split|]; [Linear(8, 1)] public partial class Split;", "DBX0016", "Layer attributes of 'Split' sit on more than one partial declaration, so their order is not defined; keep them on one declaration, in data-flow order" },
        { "[Lstm(4, 8)] public partial class M { public void [|Forward|]() { } }", "DBX0017", "Class 'M' declares 'Forward', which Deepbox generates for the model; rename or remove it" },
        { "[Lstm(4, 8)] public partial class M { public [|M|](int size) { } }", "DBX0017", "Class 'M' declares 'M(int)', which Deepbox generates for the model; rename or remove it" },
        { "[Lstm(4, 8)][[|Embedding(10, 4)|]] public partial class M;", "DBX0018", "[Embedding] of 'M' is layer 1; a table of token vectors turns token ids into the first layer's input, so it can only come first" },
        { "[Embedding(10, 4, [|PaddingIdx = 10|])][Lstm(4, 8)] public partial class M;", "DBX0019", "[Embedding] PaddingIdx is 10; it must be an id in [0, 10) or -1 (none)" },
        { "[Embedding(10, 4, [|PaddingIdx = -2|])][Lstm(4, 8)] public partial class M;", "DBX0019", "[Embedding] PaddingIdx is -2; it must be an id in [0, 10) or -1 (none)" },
        { "[Embedding([|0|], 4)][Lstm(4, 8)] public partial class M;", "DBX0004", "[Embedding] numEmbeddings is 0; it must be between 1 and 16777216 (ids above 2^24 are not exact as floats, and no word list is that long)" },
        { "[Embedding(10, [|embeddingDim: -1|])][Lstm(4, 8)] public partial class M;", "DBX0004", "[Embedding] embeddingDim is -1; it must be between 1 and 65536 (one weight matrix of 65536 x 65536 floats already takes 16 GiB)" },
        { "[Embedding(10, 4)][Lstm([|5|], 8)] public partial class M;", "DBX0005", "[Lstm] takes inputSize = 5, but the layer before it gives 4; set inputSize to 4" },
        { "[Lstm(4, 8)] public partial class M { public float[] [|Weights|] { get; } = []; }", "DBX0017", "Class 'M' declares 'Weights', which Deepbox generates for the model; rename or remove it" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void ErrorHasIdMessageAndSpanAndNothingElse(string marked, string id, string message)
    {
        (string source, TextSpan span) = Unmark("using Deepbox;\nnamespace User;\n" + marked);
        GeneratorHarness.Result result = GeneratorHarness.Run(source);
        Assert.All(result.Run.Results, r => Assert.Null(r.Exception));
        Assert.Empty(result.GeneratedSources);
        Diagnostic d = Assert.Single(result.AllDiagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(span, d.Location.SourceSpan);
    }

    [Fact]
    public void DropoutOnOneLayerWarnsAndStillEmits()
    {
        (string source, TextSpan span) = Unmark("using Deepbox;\n[Lstm(4, 8, [|Dropout = 0.5f|])] public partial class M;");
        GeneratorHarness.Result result = GeneratorHarness.Run(source);
        Diagnostic d = Assert.Single(result.AllDiagnostics);
        Assert.Equal("DBX0015", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("[Lstm] Dropout = 0.5 with NumLayers = 1 has no effect: dropout applies between stacked layers only", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(span, d.Location.SourceSpan);
        Assert.Single(result.ModelSources);
    }

    [Fact]
    public void StreamingABidirectionalModelIsACompileErrorThatSaysWhy()
    {
        const string source = """
            using System;
            using Deepbox;
            [Gru(4, 8, Bidirectional = true, Name = "encoder")] [Linear(16, 2)] public partial class Tagger;
            public static class User
            {
                public static void Use(Tagger t)
                {
                    ModelState s = t.CreateState();
                    t.Step(new float[4], s, new float[2]);
                    t.CreateState(new float[16]);
                }
            }
            """;
        GeneratorHarness.Result result = GeneratorHarness.Run(source);
        IReadOnlyList<Diagnostic> errors = result.AllDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.Equal(3, errors.Count);
        Assert.All(errors, d =>
        {
            Assert.Equal("CS0619", d.Id); // "'member' is obsolete: 'reason'", not CS1061's "no definition"
            Assert.Contains(
                "Tagger cannot stream: its GRU layer 'encoder' is bidirectional, and the reverse direction starts at the sequence's last step",
                d.GetMessage(System.Globalization.CultureInfo.InvariantCulture),
                StringComparison.Ordinal);
        });
        Assert.DoesNotContain(result.AllDiagnostics, d => d.Severity == DiagnosticSeverity.Warning);
    }

    [Fact]
    public void ArgumentThatIsNotAConstantIsReported()
    {
        (string source, TextSpan span) = Unmark("using Deepbox;\n[[|Lstm(4, int.Parse(\"8\"))|]] public partial class M;");
        GeneratorHarness.Result result = GeneratorHarness.Run(source);
        Assert.Empty(result.GeneratedSources);
        Diagnostic d = Assert.Single(result.AllDiagnostics, x => x.Id.StartsWith("DBX", StringComparison.Ordinal));
        Assert.Equal("DBX0013", d.Id);
        Assert.Equal("[Lstm] has an argument the generator cannot read as a constant; use literal values or constants", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(span, d.Location.SourceSpan);

        // The compiler's own error for the argument stays, and nothing else.
        Assert.All(result.AllDiagnostics.Where(x => x != d), x => Assert.Equal("CS0182", x.Id));
    }

    /// <summary>
    /// DBX0015 is a warning on the Dropout argument, located in the model's syntax tree (the only kind of location
    /// <c>#pragma</c> and <c>.editorconfig</c> reach; one made from a file path is not, dotnet/roslyn#68291), and the
    /// model is still generated and compiles.
    /// </summary>
    [Fact]
    public void TheDropoutWarningKeepsTheModel()
    {
        const string Source = "using Deepbox;\n[Lstm(4, 8, Dropout = 0.5f)] public partial class M;";
        GeneratorHarness.Result result = GeneratorHarness.Run(Source);
        Diagnostic d = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal("DBX0015", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal(LocationKind.SourceFile, d.Location.Kind);
        Assert.Same(result.Output.SyntaxTrees.First(), d.Location.SourceTree);
        int start = Source.IndexOf("Dropout = 0.5f", StringComparison.Ordinal);
        Assert.Equal(new TextSpan(start, "Dropout = 0.5f".Length), d.Location.SourceSpan);
        Assert.Single(result.ModelSources);
        Assert.Empty(result.Output.GetDiagnostics().Where(x => x.Severity == DiagnosticSeverity.Error));
    }

    /// <summary><c>#pragma warning disable DBX0015</c> silences the warning (the driver reports it suppressed, or not at all).</summary>
    [Fact]
    public void PragmaDisablesTheWarning()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run("using Deepbox;\n#pragma warning disable DBX0015\n[Lstm(4, 8, Dropout = 0.5f)] public partial class M;");
        Assert.All(result.GeneratorDiagnostics, d => Assert.True(d.Id == "DBX0015" && d.IsSuppressed, $"{d.Id} suppressed: {d.IsSuppressed}"));
        Assert.Single(result.ModelSources);
    }

    [Fact]
    public void ModelsInTheGlobalNamespaceAndNestedCompileCleanly()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(
            "using Deepbox;\n[Gru(3, 5)] public partial class G;\nnamespace A.B { public partial class O { internal partial class P { [Rnn(2, 3)][LastStep] private sealed partial class R; } } }");
        Assert.True(result.AllDiagnostics.Count == 0, result.Describe());
        Assert.Equal(2, result.ModelSources.Count());
    }

    /// <summary>
    /// Random, often nonsensical declarations: the generator never throws (no AD0001 / CS8785), and every model is
    /// either clean compiling code or DBX diagnostics only.
    /// </summary>
    [Fact]
    public void NonsenseDeclarationsNeverCrashTheGenerator()
    {
        Gen<string> size = Gen.OneOfConst("-2", "0", "1", "3", "8", "17", "70000", "int.MaxValue");
        Gen<string> named = Gen.OneOf(
            Gen.OneOfConst("-1", "0", "1", "2", "3", "65").Select(v => "NumLayers = " + v),
            Gen.OneOfConst("-0.5f", "0f", "0.3f", "1f", "2f", "float.NaN").Select(v => "Dropout = " + v),
            Gen.OneOfConst("null", "\"a\"", "\"a.b\"", "\"1x\"", "\"x\"", "\"\"").Select(v => "Name = " + v),
            Gen.Bool.Select(v => "BatchFirst = " + (v ? "true" : "false")),
            Gen.Bool.Select(v => "Bidirectional = " + (v ? "true" : "false")),
            Gen.Bool.Select(v => "Bias = " + (v ? "true" : "false")));
        Gen<string> attribute = Gen.OneOf(
            Gen.Const("[LastStep]"),
            from kind in Gen.OneOfConst("Rnn", "Lstm", "Gru", "Linear")
            from a in size
            from b in size
            from props in named.Array[0, 3]
            select $"[{kind}({string.Join(", ", new[] { a, b }.Concat(props.Where(p => kind != "Linear" || p.StartsWith("Bias", StringComparison.Ordinal) || p.StartsWith("Name", StringComparison.Ordinal)).Distinct(new PropertyNameComparer())))})]");
        Gen<string> model = from attrs in attribute.Array[0, 5] from partial in Gen.Frequency((9, Gen.Const("partial ")), (1, Gen.Const(string.Empty))) select string.Concat(attrs) + " public " + partial + "class {0};";

        model.Array[8, 16].Sample(
            models =>
            {
                var source = new StringBuilder("using Deepbox;\nnamespace Nonsense;\n");
                for (int i = 0; i < models.Length; i++)
                {
                    source.AppendLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, models[i], "M" + i));
                }

                GeneratorHarness.Result result = GeneratorHarness.Run(source.ToString());
                Assert.All(result.Run.Results, r => Assert.Null(r.Exception));
                IReadOnlyList<Diagnostic> all = result.AllDiagnostics;
                Assert.DoesNotContain(all, d => d.Id is "AD0001" or "CS8785");
                var notOurs = all.Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("DBX", StringComparison.Ordinal)).ToList();
                Assert.True(notOurs.Count == 0, source + "\n" + result.Describe());
            },
            iter: 12,
            threads: 1);
    }

    /// <summary>Strips the <c>[| |]</c> markers and returns the source with the marked span.</summary>
    private static (string Source, TextSpan Span) Unmark(string marked)
    {
        int start = marked.IndexOf("[|", StringComparison.Ordinal);
        int end = marked.IndexOf("|]", StringComparison.Ordinal);
        string source = marked.Remove(end, 2).Remove(start, 2);
        return (source, TextSpan.FromBounds(start, end - 2));
    }

    /// <summary>Two named arguments are the same property when the text before '=' matches (C# rejects duplicates).</summary>
    private sealed class PropertyNameComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => Key(x) == Key(y);

        public int GetHashCode(string obj) => Key(obj).GetHashCode(StringComparison.Ordinal);

        private static string Key(string? s) => s is null ? string.Empty : s.Split('=')[0].Trim();
    }
}
