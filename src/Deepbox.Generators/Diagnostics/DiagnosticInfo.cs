namespace Deepbox.Generators;

/// <summary>A diagnostic as plain data: its descriptor id, where it points, and its message arguments.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments);
