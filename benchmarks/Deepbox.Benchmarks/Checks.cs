using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Benchmarks;

/// <summary>One agreement check of a peer against Deepbox.</summary>
/// <param name="Label">Workload and peer, e.g. <c>W1_Lstm/LibTorch_1T</c>.</param>
/// <param name="What">What was compared.</param>
/// <param name="Difference">The largest difference found (absolute, or relative where <paramref name="Relative"/>).</param>
/// <param name="Tolerance">The largest allowed.</param>
/// <param name="Relative">Whether the difference is relative to the largest magnitude of Deepbox's values.</param>
public sealed record CheckResult(string Label, string What, float Difference, float Tolerance, bool Relative)
{
    /// <summary>Whether the check passed.</summary>
    public bool Passed => Difference <= Tolerance;
}

/// <summary>Agreement checks: every peer's numbers must be Deepbox's to <see cref="Fixture.Tolerance"/> before it is timed.</summary>
public static class Checks
{
    private static readonly ConcurrentQueue<CheckResult> Results = new();

    /// <summary>Every check made in this process.</summary>
    public static IReadOnlyList<CheckResult> All => [.. Results];

    /// <summary>Records an absolute difference and throws when it is over the tolerance (or NaN).</summary>
    public static float Require(string label, string what, float maxAbsDiff, float tolerance = Fixture.Tolerance) =>
        Record(new CheckResult(label, what, float.IsNaN(maxAbsDiff) ? float.PositiveInfinity : maxAbsDiff, tolerance, false));

    /// <summary>Records a difference relative to the largest magnitude of <paramref name="expected"/> and throws when over.</summary>
    public static float RequireRelative(string label, string what, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, float tolerance = Fixture.Tolerance)
    {
        float scale = MathF.Max(Fixture.MaxAbs(expected), float.Epsilon);
        float diff = Fixture.MaxAbsDiff(actual, expected) / scale;
        return Record(new CheckResult(label, what, float.IsNaN(diff) ? float.PositiveInfinity : diff, tolerance, true));
    }

    private static float Record(CheckResult r)
    {
        Results.Enqueue(r);
        if (!r.Passed)
        {
            throw new InvalidOperationException(
                $"{r.Label}: {r.What} differ from Deepbox's by {r.Difference:G3}{(r.Relative ? " (relative)" : "")}, over the tolerance {r.Tolerance:G3}: this peer computes something else, so it is not timed.");
        }

        return r.Difference;
    }

    /// <summary>The worst check of each label.</summary>
    public static IEnumerable<CheckResult> WorstPerLabel() =>
        All.GroupBy(r => r.Label).Select(g => g.OrderByDescending(r => r.Difference / r.Tolerance).First());
}
