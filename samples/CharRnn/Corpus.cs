using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace CharRnnSample;

/// <summary>
/// The sonnets as lines of character ids: sonnets 1-140 to train on, 141-154 held out. A line of n characters is a
/// sequence of n + 1 steps: the input is the line break then the characters, the target the characters then the line
/// break, so the model learns to start and to end a line.
/// </summary>
public sealed class Corpus
{
    /// <summary>Ids: padding, the line break, and the 60 characters of the sonnets.</summary>
    public const int Vocabulary = 62;

    /// <summary>The padding id (never a target).</summary>
    public const int Padding = 0;

    /// <summary>The line break's id: the first input of every line and the last target.</summary>
    public const int LineBreak = 1;

    /// <summary>The first sonnet held out.</summary>
    public const int FirstHeldOut = 141;

    private readonly char[] _chars;
    private readonly Dictionary<char, int> _ids;

    private Corpus(List<(int Sonnet, string Text)> lines)
    {
        _chars = lines.SelectMany(l => l.Text).Distinct().Order().ToArray();
        if (_chars.Length + 2 != Vocabulary)
        {
            throw new InvalidDataException($"The text has {_chars.Length} distinct characters; the model is declared for {Vocabulary - 2}.");
        }

        _ids = _chars.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i + 2);
        Train = lines.Where(l => l.Sonnet < FirstHeldOut).Select(l => l.Text).ToArray();
        HeldOut = lines.Where(l => l.Sonnet >= FirstHeldOut).Select(l => l.Text).ToArray();
    }

    /// <summary>The lines to train on.</summary>
    public IReadOnlyList<string> Train { get; }

    /// <summary>The held-out lines (sonnets 141 to 154).</summary>
    public IReadOnlyList<string> HeldOut { get; }

    /// <summary>Reads the sonnets shipped in the assembly.</summary>
    public static Corpus Load()
    {
        using Stream stream = typeof(Corpus).Assembly.GetManifestResourceStream("CharRnnSample.Data.sonnets.txt")
            ?? throw new InvalidOperationException("The sonnets are not in the assembly.");
        using var reader = new StreamReader(stream);
        var lines = new List<(int, string)>();
        int sonnet = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }

            if (int.TryParse(line, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number))
            {
                sonnet = number;
                continue;
            }

            lines.Add((sonnet, line));
        }

        return new Corpus(lines);
    }

    /// <summary>A character's id.</summary>
    public int Id(char c) => _ids[c];

    /// <summary>An id's character ('\n' for the line break).</summary>
    public char Char(int id) => id == LineBreak ? '\n' : _chars[id - 2];

    /// <summary>
    /// A batch of lines, padded to the longest: input ids <c>[B, T]</c>, target ids (-100 past each line, as
    /// <c>Losses.CrossEntropy</c> ignores them), and each line's steps (its length + 1).
    /// </summary>
    public void Batch(IReadOnlyList<string> lines, ReadOnlySpan<int> which, int[] inputs, int[] targets, int[] lengths, out int seqLen)
    {
        seqLen = 0;
        foreach (int i in which)
        {
            seqLen = Math.Max(seqLen, lines[i].Length + 1);
        }

        for (int b = 0; b < which.Length; b++)
        {
            string line = lines[which[b]];
            lengths[b] = line.Length + 1;
            for (int t = 0; t < seqLen; t++)
            {
                int at = (b * seqLen) + t;
                inputs[at] = t == 0 ? LineBreak : t <= line.Length ? Id(line[t - 1]) : Padding;
                targets[at] = t < line.Length ? Id(line[t]) : t == line.Length ? LineBreak : -100;
            }
        }
    }
}
