using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace Deepbox.Generators;

/// <summary>
/// Compiles classes declared with Deepbox layer attributes into shape-specialized forward passes.
/// Pipeline per attribute: ForAttributeWithMetadataName → <see cref="ModelParser"/> (a class is handled by the
/// pipeline of its first layer attribute) → equatable <see cref="ParseResult"/> → diagnostics and source.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class DeepboxGenerator : IIncrementalGenerator
{
    /// <summary>Tracking name of the parse step of each attribute pipeline (suffixed with the attribute).</summary>
    public const string ParseStep = "Deepbox.Parse";

    /// <summary>Tracking name of the step that keeps the spec only.</summary>
    public const string SpecStep = "Deepbox.Spec";

    private static readonly string[] AttributeNames =
    [
        "RnnAttribute", "LstmAttribute", "GruAttribute", "LinearAttribute", "LastStepAttribute",
    ];

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
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

            context.RegisterSourceOutput(parsed.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
            {
                foreach (DiagnosticInfo d in diagnostics)
                {
                    spc.ReportDiagnostic(Diagnostic.Create(Diagnostics.Get(d.Id), ToLocation(d.Location), [.. d.Arguments]));
                }
            });

            IncrementalValuesProvider<ModelSpec> specs = parsed
                .Where(static r => r.Spec is not null)
                .Select(static (r, _) => r.Spec!)
                .WithTrackingName(SpecStep);

            context.RegisterSourceOutput(specs, static (spc, spec) =>
                spc.AddSource(spec.HintName, SourceText.From(Emitter.Emit(spec), Encoding.UTF8)));
        }
    }

    private static Location ToLocation(LocationInfo? info) =>
        info is null
            ? Location.None
            : Location.Create(
                info.FilePath,
                new TextSpan(info.Start, info.Length),
                new LinePositionSpan(new LinePosition(info.StartLine, info.StartColumn), new LinePosition(info.EndLine, info.EndColumn)));
}
