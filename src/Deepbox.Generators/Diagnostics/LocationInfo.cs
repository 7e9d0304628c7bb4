namespace Deepbox.Generators;

/// <summary>A source location as plain data, turned back into a <c>Location</c> only when reported.</summary>
internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn);
