using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using RecurrentLayers;
using Xunit;

namespace Deepbox.Tests;

/// <summary>The seed tutorial as a sample: its transcript is deepbox's, line for line.</summary>
public class SampleTests
{
    private const string Emulated = "Vector path: Vector256 blocks, emulated (no AVX2: correct but slow)";

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

    /// <summary>
    /// The same sample in a child process with AVX-512 (then AVX2, then every hardware intrinsic) switched off: the
    /// kernels' 16-float branches give way to their 8-float ones, then the generated <c>Vector256</c> kernels run
    /// emulated and the activations take their <c>Vector128</c> (then scalar) path, and every printed number,
    /// round-trip formatted, must be the same. The child must report the path it took (the knob is .NET 10's
    /// <c>DOTNET_EnableAVX512</c>; the older <c>DOTNET_EnableAVX512F</c> is ignored and would leave Vector512 on). The
    /// child inherits this process's knobs (test.sh also runs the suite with AVX-512, AVX2 or every intrinsic switched
    /// off), so where <c>Vector256</c> is already emulated here it stays emulated there.
    /// </summary>
    [Theory]
    [InlineData("DOTNET_EnableAVX512", "Vector path: Vector256 blocks, hardware-accelerated")]
    [InlineData("DOTNET_EnableAVX2", Emulated)]
    [InlineData("DOTNET_EnableHWIntrinsic", Emulated)]
    public void FallbackPathsGiveTheSameNumbers(string knob, string vectorPath)
    {
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            vectorPath = Emulated;
        }

        var output = new StringWriter { NewLine = "\n" };
        Tutorial.Run(output);
        string[] inProcess = output.ToString().Split('\n');
        string[] child = RunSample(knob).Split('\n');
        Assert.Contains(vectorPath, child);
        Assert.Equal(inProcess.Where(l => !l.StartsWith("Vector path", StringComparison.Ordinal)), child.Where(l => !l.StartsWith("Vector path", StringComparison.Ordinal)));
        Assert.Contains(inProcess, l => l.StartsWith("LSTM: ", StringComparison.Ordinal));
    }

    private static string RunSample(string knob)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "RecurrentLayers.dll"));
        start.Environment[knob] = "0";
        using Process process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, stderr);
        return stdout.Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
