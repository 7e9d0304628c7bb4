using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Deepbox.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Deepbox.Tests;

/// <summary>Runs the generator over an in-memory compilation, as the compiler does in a user's build.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return tpa.Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Append(typeof(Tensor).Assembly.Location)
            .Append(typeof(Deepbox.Onnx.OnnxExport).Assembly.Location) // for the documentation's ONNX snippets
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    });

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

    public static CSharpCompilation Compilation(params string[] sources) => Compilation(OutputKind.DynamicallyLinkedLibrary, sources);

    public static CSharpCompilation Compilation(OutputKind kind, params string[] sources) => CSharpCompilation.Create(
        "Generated" + Guid.NewGuid().ToString("N"),
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Model{i}.cs")),
        References.Value,
        new CSharpCompilationOptions(
            kind,
            nullableContextOptions: NullableContextOptions.Enable,
            warningLevel: 9999,
            optimizationLevel: OptimizationLevel.Release));

    public static GeneratorDriver Driver() => CSharpGeneratorDriver.Create(
        [new DeepboxGenerator().AsSourceGenerator()],
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns the compilation with the generated sources and every diagnostic.</summary>
    public static Result Run(params string[] sources) => Run(OutputKind.DynamicallyLinkedLibrary, sources);

    /// <summary>Runs the generator over a compilation of the given kind (a program, for top-level statements).</summary>
    public static Result Run(OutputKind kind, params string[] sources)
    {
        CSharpCompilation input = Compilation(kind, sources);
        GeneratorDriver driver = Driver().RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        GeneratorDriverRunResult run = driver.GetRunResult();
        return new Result(output, generatorDiagnostics, run);
    }

    internal sealed record Result(Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorDriverRunResult Run)
    {
        /// <summary>Every warning and error: the generator's and the compiler's over the generated code.</summary>
        public IReadOnlyList<Diagnostic> AllDiagnostics => GeneratorDiagnostics
            .Concat(Run.Results.SelectMany(r => r.Diagnostics))
            .Concat(Output.GetDiagnostics())
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Distinct()
            .ToList();

        public IEnumerable<string> GeneratedSources => Run.Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText.ToString());

        /// <summary>The models' files (not the shared kernel files).</summary>
        public IEnumerable<string> ModelSources => Run.Results.SelectMany(r => r.GeneratedSources)
            .Where(s => !s.HintName.StartsWith("Deepbox.Kernels", StringComparison.Ordinal))
            .Select(s => s.SourceText.ToString());

        /// <summary>The shared kernel files by hint name (<c>Deepbox.Kernels.Lstm.g.cs</c>, ...).</summary>
        public IReadOnlyDictionary<string, string> KernelSources => Run.Results.SelectMany(r => r.GeneratedSources)
            .Where(s => s.HintName.StartsWith("Deepbox.Kernels", StringComparison.Ordinal))
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString());

        /// <summary>Every generated file with the compilation's own name (in the kernels' namespace) made neutral, to compare runs.</summary>
        public IEnumerable<string> NeutralSources => GeneratedSources.Select(s => s.Replace(Output.AssemblyName!, "Assembly", StringComparison.Ordinal));

        /// <summary>Emits and loads the compilation in a collectible context.</summary>
        public Assembly Load()
        {
            using var stream = new MemoryStream();
            Microsoft.CodeAnalysis.Emit.EmitResult emit = Output.Emit(stream);
            if (!emit.Success)
            {
                throw new InvalidOperationException("The generated code does not compile:\n" + string.Join("\n", emit.Diagnostics));
            }

            stream.Position = 0;
            var context = new AssemblyLoadContext("generated", isCollectible: true);
            return context.LoadFromStream(stream);
        }

        public string Describe() => string.Join("\n", AllDiagnostics.Select(d => d.ToString()))
            + "\n--- generated ---\n" + string.Join("\n", GeneratedSources.Select(Number));

        private static string Number(string source) =>
            string.Join("\n", source.Split('\n').Select((line, i) => $"{i + 1,5}: {line}"));
    }
}
