using System;
using System.Collections.Generic;
using System.Text;
using Deepbox;

namespace CharRnnSample;

/// <summary>Writes new lines one character at a time with <c>Step</c>: each sampled character is the next step's input.</summary>
public static class Generation
{
    /// <summary>
    /// Samples <paramref name="lines"/> lines, each from the zero state and the line break, each character drawn from the softmax of the
    /// scores over <paramref name="temperature"/> with a seeded <see cref="Random"/>: the same seed, the same lines.
    /// </summary>
    public static IReadOnlyList<string> Sample(CharModel model, Corpus corpus, int lines, double temperature, int seed, int maxChars = 80)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(corpus);
        var rng = new Random(seed);
        ModelState state = model.CreateState();
        var scores = new float[Corpus.Vocabulary];
        var weights = new double[Corpus.Vocabulary];
        var result = new List<string>();
        int token = Corpus.LineBreak;
        var line = new StringBuilder();
        while (result.Count < lines)
        {
            model.Step(token, state, scores);
            token = Draw(scores, weights, temperature, rng);
            if (token == Corpus.LineBreak || line.Length >= maxChars)
            {
                // A line is a sequence of its own, as in training: the next starts again from the zero state.
                result.Add(line.ToString());
                line.Clear();
                state.Reset();
                token = Corpus.LineBreak;
                continue;
            }

            line.Append(corpus.Char(token));
        }

        return result;
    }

    private static int Draw(float[] scores, double[] weights, double temperature, Random rng)
    {
        double max = double.NegativeInfinity;
        for (int i = 1; i < scores.Length; i++)
        {
            max = Math.Max(max, scores[i] / temperature);
        }

        double total = 0;
        weights[Corpus.Padding] = 0; // never padding
        for (int i = 1; i < scores.Length; i++)
        {
            weights[i] = Math.Exp((scores[i] / temperature) - max);
            total += weights[i];
        }

        double u = rng.NextDouble() * total;
        for (int i = 1; i < weights.Length; i++)
        {
            u -= weights[i];
            if (u < 0)
            {
                return i;
            }
        }

        return weights.Length - 1;
    }
}
