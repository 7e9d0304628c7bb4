using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Deepbox;

namespace CharRnnSample;

/// <summary>What a training run does.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training lines.</summary>
    public int Epochs { get; init; } = 40;

    /// <summary>Lines per batch (of different lengths: each runs its own steps).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Seed of the weights, the dropout masks, the shuffling and the sampling.</summary>
    public int Seed { get; init; } = 7;

    /// <summary>Threads each pass may use.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Adam's learning rate at the start (cosine-annealed to a tenth of it).</summary>
    public float LearningRate { get; init; } = 4e-3f;

    /// <summary>The training lines used, the first of them (a short run); null: all.</summary>
    public int? TrainLines { get; init; }

    /// <summary>The held-out lines each epoch's perplexity is measured on, the first of them; null: all.</summary>
    public int? HeldOutLines { get; init; }

    /// <summary>Where the weights are saved; null: not saved.</summary>
    public string? WeightsPath { get; init; }
}

/// <summary>One epoch's figures, as the progress display shows them.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double Loss, double HeldOutPerplexity);

/// <summary>What a run gives.</summary>
public sealed record TrainingResult(
    CharModel Model,
    Corpus Corpus,
    IReadOnlyList<double> EpochLosses,
    IReadOnlyList<double> HeldOutPerplexities,
    double BigramPerplexity,
    TimeSpan Elapsed);

/// <summary>The training loop: shuffled batches of lines with their lengths, cross-entropy past the padding, Adam.</summary>
public static class Training
{
    /// <summary>Trains a new model on the sonnets.</summary>
    public static TrainingResult Run(TrainingOptions options, Action<EpochReport>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        Corpus corpus = Corpus.Load();
        var model = new CharModel(options.Seed) { Threads = options.Threads };
        model.Train();
        var adam = new Adam(model, options.LearningRate);
        IReadOnlyList<string> train = options.TrainLines is { } n ? [.. corpus.Train.Take(n)] : corpus.Train;
        int batches = (train.Count + options.BatchSize - 1) / options.BatchSize;
        var schedule = new CosineAnnealingLR(adam, options.Epochs * batches, options.LearningRate / 10);
        var rng = new Random(options.Seed);
        int maxSteps = corpus.Train.Concat(corpus.HeldOut).Max(l => l.Length) + 1;
        var buffers = new Buffers(options.BatchSize, maxSteps);
        IReadOnlyList<string> heldOut = options.HeldOutLines is { } h ? [.. corpus.HeldOut.Take(h)] : corpus.HeldOut;
        int[] order = Enumerable.Range(0, train.Count).ToArray();
        var losses = new List<double>();
        var perplexities = new List<double>();
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            rng.Shuffle(order);
            double sum = 0;
            for (int first = 0; first < order.Length; first += options.BatchSize)
            {
                ReadOnlySpan<int> which = order.AsSpan(first, Math.Min(options.BatchSize, order.Length - first));
                corpus.Batch(train, which, buffers.Inputs, buffers.Targets, buffers.Lengths, out int seqLen);
                int b = which.Length;
                Span<float> logits = buffers.Logits.AsSpan(0, b * seqLen * Corpus.Vocabulary);
                Span<float> grad = buffers.Gradient.AsSpan(0, logits.Length);
                model.Forward(buffers.Inputs.AsSpan(0, b * seqLen), b, seqLen, buffers.Lengths.AsSpan(0, b), logits);
                sum += Losses.CrossEntropy(logits, buffers.Targets.AsSpan(0, b * seqLen), grad, threads: model.Threads);
                adam.ZeroGrad();
                model.Backward(grad, default);
                Gradients.ClipGradNorm(model, 1);
                adam.Step();
                schedule.Step();
            }

            losses.Add(sum / batches);
            perplexities.Add(Perplexity(model, corpus, heldOut, buffers));
            progress?.Invoke(new EpochReport(epoch, options.Epochs, losses[^1], perplexities[^1]));
        }

        model.Eval();
        if (options.WeightsPath is { } path)
        {
            model.Save(path);
        }

        return new TrainingResult(model, corpus, losses, perplexities, Bigram(corpus), clock.Elapsed);
    }

    /// <summary>exp of the mean cross-entropy over every target of <paramref name="lines"/> (their characters and line ends), in evaluation mode.</summary>
    public static double Perplexity(CharModel model, Corpus corpus, IReadOnlyList<string> lines, Buffers buffers)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(buffers);
        bool training = model.IsTraining;
        model.Eval();
        double total = 0;
        int targets = 0;
        int[] all = Enumerable.Range(0, lines.Count).ToArray();
        for (int first = 0; first < all.Length; first += buffers.BatchSize)
        {
            ReadOnlySpan<int> which = all.AsSpan(first, Math.Min(buffers.BatchSize, all.Length - first));
            corpus.Batch(lines, which, buffers.Inputs, buffers.Targets, buffers.Lengths, out int seqLen);
            int b = which.Length;
            Span<float> logits = buffers.Logits.AsSpan(0, b * seqLen * Corpus.Vocabulary);
            model.Forward(buffers.Inputs.AsSpan(0, b * seqLen), b, seqLen, buffers.Lengths.AsSpan(0, b), logits);
            total += Losses.CrossEntropy(logits, buffers.Targets.AsSpan(0, b * seqLen), default, Reduction.Sum, threads: model.Threads);
            foreach (int steps in buffers.Lengths.AsSpan(0, b))
            {
                targets += steps; // a line of n characters has n + 1 targets, the line break last
            }
        }

        if (training)
        {
            model.Train();
        }

        return Math.Exp(total / targets);
    }

    /// <summary>
    /// The baseline: a bigram model of the training lines (the next character's frequency after each character, with
    /// add-one smoothing over the 61 symbols), its perplexity on the held-out lines, the same targets as the model's.
    /// </summary>
    public static double Bigram(Corpus corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        const int V = Corpus.Vocabulary;
        var counts = new double[V, V];
        foreach (string line in corpus.Train)
        {
            int previous = Corpus.LineBreak;
            foreach (int next in line.Select(corpus.Id).Append(Corpus.LineBreak))
            {
                counts[previous, next]++;
                previous = next;
            }
        }

        double logLikelihood = 0;
        int targets = 0;
        foreach (string line in corpus.HeldOut)
        {
            int previous = Corpus.LineBreak;
            foreach (int next in line.Select(corpus.Id).Append(Corpus.LineBreak))
            {
                double row = Enumerable.Range(1, V - 1).Sum(j => counts[previous, j]);
                logLikelihood += Math.Log((counts[previous, next] + 1) / (row + V - 1));
                targets++;
                previous = next;
            }
        }

        return Math.Exp(-logLikelihood / targets);
    }

    /// <summary>The reusable arrays of a run: nothing is allocated per batch.</summary>
    public sealed class Buffers(int batchSize, int maxSteps)
    {
        /// <summary>Lines per batch.</summary>
        public int BatchSize { get; } = batchSize;

        /// <summary>Input ids.</summary>
        public int[] Inputs { get; } = new int[batchSize * maxSteps];

        /// <summary>Target ids.</summary>
        public int[] Targets { get; } = new int[batchSize * maxSteps];

        /// <summary>Each line's steps.</summary>
        public int[] Lengths { get; } = new int[batchSize];

        /// <summary>The scores.</summary>
        public float[] Logits { get; } = new float[batchSize * maxSteps * Corpus.Vocabulary];

        /// <summary>The scores' gradient.</summary>
        public float[] Gradient { get; } = new float[batchSize * maxSteps * Corpus.Vocabulary];
    }
}
