using System;
using System.IO;
using System.Runtime.CompilerServices;
using Xunit.Sdk;

namespace Deepbox.Tests;

/// <summary>
/// A small stand-in for Verify (not served here) that keeps its file names, so switching is one line:
/// <c>Snapshots/{Class}.{Method}#{HintName}.verified.cs</c>. A difference fails the test and writes
/// <c>*.received.cs</c> beside the verified file (git ignores it); accepting a change is copying it over.
/// </summary>
internal static class Snapshot
{
    public static void Verify(string actual, string hintName, string testClass, [CallerMemberName] string method = "", [CallerFilePath] string testFile = "")
    {
        string directory = SnapshotDirectory(testFile);
        string stem = Path.Combine(directory, $"{testClass}.{method}#{Path.GetFileNameWithoutExtension(hintName)}");
        string verifiedPath = stem + ".verified.cs";
        string receivedPath = stem + ".received.cs";
        string normalized = actual.Replace("\r\n", "\n", StringComparison.Ordinal).TrimStart('\uFEFF');
        string? verified = File.Exists(verifiedPath) ? File.ReadAllText(verifiedPath).Replace("\r\n", "\n", StringComparison.Ordinal) : null;
        if (verified == normalized)
        {
            File.Delete(receivedPath);
            return;
        }

        File.WriteAllText(receivedPath, normalized);
        throw new XunitException(verified is null
            ? $"No snapshot yet: wrote {receivedPath}. Review it and rename it to {Path.GetFileName(verifiedPath)} to accept."
            : $"The generated code differs from {verifiedPath} (first difference at line {FirstDifference(verified, normalized)}). "
              + $"Wrote {receivedPath}: diff them, and copy it over the verified file to accept.");
    }

    /// <summary>
    /// The <c>Snapshots</c> folder beside the test sources: from the caller's file path, or, where the build mapped
    /// source paths away (deterministic CI builds write <c>/_/</c>), found by walking up from the test binaries.
    /// </summary>
    private static string SnapshotDirectory(string testFile)
    {
        string? sources = Path.GetDirectoryName(testFile);
        if (sources is not null && File.Exists(Path.Combine(sources, "Deepbox.Tests.csproj")))
        {
            return Path.Combine(sources, "Snapshots");
        }

        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Deepbox.Tests.csproj")))
            {
                return Path.Combine(d.FullName, "Snapshots");
            }
        }

        throw new InvalidOperationException($"Cannot find the test sources from {testFile} or {AppContext.BaseDirectory}.");
    }

    private static int FirstDifference(string a, string b)
    {
        string[] x = a.Split('\n');
        string[] y = b.Split('\n');
        int i = 0;
        while (i < x.Length && i < y.Length && x[i] == y[i])
        {
            i++;
        }

        return i + 1;
    }
}
