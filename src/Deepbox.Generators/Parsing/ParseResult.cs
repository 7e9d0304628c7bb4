namespace Deepbox.Generators;

/// <summary>The result of parsing one class: the spec (null when there are errors) and the diagnostics.</summary>
internal sealed record ParseResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
