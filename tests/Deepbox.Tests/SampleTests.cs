using System;
using System.IO;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>The seed tutorial as a sample: its transcript is deepbox's, line for line.</summary>
public class SampleTests
{
    [Fact]
    public void RecurrentLayersPrintsTheTutorialTranscript()
    {
        string expected = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Samples", "RecurrentLayers.transcript.txt")).Replace("\r\n", "\n", StringComparison.Ordinal);
        var output = new StringWriter { NewLine = "\n" };
        Tutorial.Run(output);
        string actual = output.ToString();
        Assert.StartsWith(expected, actual, StringComparison.Ordinal);

        // What Deepbox adds after the transcript: scalar counts (112, 448 and 336 for these sizes).
        string extra = actual[expected.Length..];
        Assert.Contains("RNN(4, 8, num_layers=1): 112\n", extra, StringComparison.Ordinal);
        Assert.Contains("LSTM(4, 8, num_layers=1): 448\n", extra, StringComparison.Ordinal);
        Assert.Contains("GRU(4, 8, num_layers=1): 336\n", extra, StringComparison.Ordinal);
        Assert.Contains("RNN(4, 16, num_layers=2): 896\n", extra, StringComparison.Ordinal);
    }
}
