using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Deepbox.Generators;

/// <summary>
/// Compiles classes declared with Deepbox layer attributes into shape-specialized forward passes.
/// Two pipelines per attribute, both from ForAttributeWithMetadataName and <see cref="ModelParser"/> (a class is handled
/// by the pipeline of its first layer attribute):
/// <list type="bullet">
/// <item><description>source: the equatable <see cref="ParseResult"/>'s spec → the generated file; it carries no
/// Roslyn object, so an edit that leaves the spec equal regenerates nothing;</description></item>
/// <item><description>diagnostics: located in the syntax tree they point into (<c>Location.Create(tree, span)</c>),
/// the only kind of location <c>#pragma warning disable</c> and <c>.editorconfig</c> reach (a location made from a
/// file path is not: dotnet/roslyn#68291). It holds the tree, so it runs again when the model's file changes; with no
/// diagnostic its value is an empty array, equal from run to run.</description></item>
/// </list>
/// Each pipeline parses the class itself: the parse is cheap, and sharing it would put the syntax tree into the
/// source pipeline's values.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class DeepboxGenerator : IIncrementalGenerator
{
    /// <summary>Tracking name of the parse step of each attribute pipeline (suffixed with the attribute).</summary>
    public const string ParseStep = "Deepbox.Parse";

    /// <summary>Tracking name of the step that keeps the spec only.</summary>
    public const string SpecStep = "Deepbox.Spec";

    /// <summary>Tracking name of the step that renders a model's kernels.</summary>
    public const string KernelsStep = "Deepbox.Kernels";

    /// <summary>Tracking name of the step that gathers every model's kernels, once each (prefix of one step per family).</summary>
    public const string KernelFileStep = "Deepbox.KernelFile";

    private static readonly string[] AttributeNames =
    [
        "RnnAttribute", "LstmAttribute", "GruAttribute", "LinearAttribute", "LastStepAttribute", "EmbeddingAttribute",
    ];

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // The shared kernels' namespace, from the assembly name: equal from edit to edit, so nothing downstream reruns.
        IncrementalValueProvider<string> kernelNamespace = context.CompilationProvider
            .Select(static (c, _) => Emitter.KernelNamespace(c.AssemblyName));
        IncrementalValueProvider<ImmutableArray<EquatableArray<KernelSource>>>? allKernels = null;
        foreach (string attribute in AttributeNames)
        {
            string name = attribute;
            IncrementalValuesProvider<ParseResult> parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    ModelParser.Namespace + "." + name,
                    static (node, _) => node is ClassDeclarationSyntax,
                    (ctx, ct) => ModelParser.Parse(ctx, name, ct))
                .Where(static r => r is not null)
                .Select(static (r, _) => r!)
                .WithTrackingName(ParseStep);

            IncrementalValuesProvider<EquatableArray<Diagnostic>> diagnostics = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    ModelParser.Namespace + "." + name,
                    static (node, _) => node is ClassDeclarationSyntax,
                    (ctx, ct) => Located(ModelParser.Parse(ctx, name, ct), ctx.TargetNode.SyntaxTree));
            context.RegisterSourceOutput(diagnostics, static (spc, list) =>
            {
                foreach (Diagnostic d in list)
                {
                    spc.ReportDiagnostic(d);
                }
            });

            IncrementalValuesProvider<ModelSpec> specs = parsed
                .Where(static r => r.Spec is not null)
                .Select(static (r, _) => r.Spec!)
                .WithTrackingName(SpecStep);

            context.RegisterSourceOutput(specs.Combine(kernelNamespace), static (spc, model) =>
                spc.AddSource(model.Left.HintName, SourceText.From(Emitter.Emit(model.Left, model.Right), Encoding.UTF8)));

            IncrementalValueProvider<ImmutableArray<EquatableArray<KernelSource>>> kernels = specs
                .Select(static (spec, _) => Emitter.Kernels(spec))
                .WithTrackingName(KernelsStep)
                .Collect();
            allKernels = allKernels is null
                ? kernels
                : allKernels.Value.Combine(kernels).Select(static (pair, _) => pair.Left.AddRange(pair.Right));
        }

        // One file per kernel family, each its own step: a model's edit rewrites only the families whose kernels changed.
        IncrementalValueProvider<EquatableArray<KernelSource>> gathered = allKernels!.Value
            .Select(static (lists, _) => new EquatableArray<KernelSource>(lists.SelectMany(l => l)));
        foreach (string family in Emitter.KernelFamilies)
        {
            string f = family;
            IncrementalValueProvider<string> file = gathered
                .Combine(kernelNamespace)
                .Select((pair, _) => Emitter.EmitKernelFile(pair.Right, f, pair.Left))
                .WithTrackingName(KernelFileStep + "." + f);
            context.RegisterSourceOutput(file, (spc, text) =>
            {
                if (text.Length > 0)
                {
                    spc.AddSource(Emitter.KernelHintName(f), SourceText.From(text, Encoding.UTF8));
                }
            });
        }
    }

    /// <summary>The parse's diagnostics, located in <paramref name="tree"/> (the file of the class they are about).</summary>
    private static EquatableArray<Diagnostic> Located(ParseResult? result, SyntaxTree tree) =>
        result is null || result.Diagnostics.Count == 0
            ? EquatableArray<Diagnostic>.Empty
            : new EquatableArray<Diagnostic>(result.Diagnostics.Select(d =>
                Diagnostic.Create(Diagnostics.Get(d.Id), ToLocation(d.Location, tree), [.. d.Arguments])));

    private static Location ToLocation(LocationInfo? info, SyntaxTree tree) =>
        info is null
            ? Location.None
            : info.FilePath == tree.FilePath
                ? Location.Create(tree, new TextSpan(info.Start, info.Length))
                : Location.Create(
                    info.FilePath,
                    new TextSpan(info.Start, info.Length),
                    new LinePositionSpan(new LinePosition(info.StartLine, info.StartColumn), new LinePosition(info.EndLine, info.EndColumn)));
}
