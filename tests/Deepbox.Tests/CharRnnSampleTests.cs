using System;
using System.IO;
using System.Linq;
using CharRnnSample;
using Xunit;

namespace Deepbox.Tests;

/// <summary>The CharRnn sample: its text, that a short training lowers the loss, and that sampling is seeded.</summary>
public sealed class CharRnnSampleTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "deepbox-charrnn-" + Guid.NewGuid().ToString("N"));

    public CharRnnSampleTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ShipsTheSonnets()
    {
        Corpus corpus = Corpus.Load();
        Assert.Equal(2155, corpus.Train.Count + corpus.HeldOut.Count); // the 154 sonnets' lines
        Assert.Equal("From fairest creatures we desire increase,", corpus.Train[0]);
        Assert.Equal("Love's fire heats water, water cools not love.", corpus.HeldOut[^1]);
        Assert.True(corpus.Train.Select(l => l.Length).Distinct().Count() > 20, "lines of many different lengths");
        Assert.Equal(225022, CharModel.ParameterCount); // as the README says
    }

    [Fact]
    public void ShortTrainingLowersTheLossAndSamplingIsSeeded()
    {
        if (!System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)
        {
            // The test pass with every hardware intrinsic off runs this model about 200 times slower (minutes): the
            // kernels' emulated-vector path is what that pass checks, and the grid tests check it on every layer.
            return;
        }

        string weights = Path.Combine(_dir, "w.safetensors");
        // A short run: 96 lines, perplexity on 48 held-out ones, 6 epochs (a second).
        TrainingResult result = Training.Run(new TrainingOptions { Epochs = 6, TrainLines = 96, HeldOutLines = 48, Threads = 1, WeightsPath = weights });
        Assert.Equal(6, result.EpochLosses.Count);
        Assert.True(result.EpochLosses[^1] < 0.85 * result.EpochLosses[0], $"loss {result.EpochLosses[0]} -> {result.EpochLosses[^1]}");
        Assert.True(result.HeldOutPerplexities[^1] < result.HeldOutPerplexities[0], "held-out perplexity falls");
        Assert.InRange(result.BigramPerplexity, 5, 20);

        string[] first = [.. Generation.Sample(result.Model, result.Corpus, lines: 3, temperature: 0.8, seed: 11)];
        string[] again = [.. Generation.Sample(result.Model, result.Corpus, lines: 3, temperature: 0.8, seed: 11)];
        string[] other = [.. Generation.Sample(result.Model, result.Corpus, lines: 3, temperature: 0.8, seed: 12)];
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);

        // The saved weights reload into a model of another seed and give the same lines.
        var reloaded = new CharModel(99);
        reloaded.Load(weights);
        reloaded.Eval();
        Assert.Equal(first, Generation.Sample(reloaded, result.Corpus, lines: 3, temperature: 0.8, seed: 11));
    }
}
