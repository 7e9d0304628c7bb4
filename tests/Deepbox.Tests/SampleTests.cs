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
    private const string Unfused = "Vector path: Vector128 ladder, hardware-accelerated, multiply-adds unfused (no FMA)";
    private const string NoSimd = "Vector path: Vector128 ladder, emulated (no SIMD: correct but slow)";

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
    /// kernels' 16-float branches give way to their 8-float ones, then to the 128-bit ladder (without FMA: .NET 10's
    /// AVX2 knob takes FMA with it, as on an x86-64-v2 core), then to that ladder on emulated vectors. With the same
    /// FMA status every printed number, round-trip formatted, must be the same; without FMA the multiply-adds round
    /// twice, and the numbers must agree to 1e-5. The child must report the path it took (the knob is .NET 10's
    /// <c>DOTNET_EnableAVX512</c>; the older <c>DOTNET_EnableAVX512F</c> is ignored and would leave Vector512 on). The
    /// child inherits this process's knobs (test.sh also runs the suite with AVX-512, AVX2 or every intrinsic switched
    /// off), so a path switched off here stays off there.
    /// </summary>
    [Theory]
    [InlineData("DOTNET_EnableAVX512", "Vector path: Vector256 blocks, hardware-accelerated")]
    [InlineData("DOTNET_EnableAVX2", Unfused)]
    [InlineData("DOTNET_EnableHWIntrinsic", NoSimd)]
    public void FallbackPathsGiveTheSameNumbers(string knob, string vectorPath)
    {
        bool fusedHere = System.Runtime.Intrinsics.X86.Fma.IsSupported;
        if (!System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated)
        {
            vectorPath = NoSimd;
        }
        else if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && knob != "DOTNET_EnableHWIntrinsic")
        {
            vectorPath = Unfused;
        }

        var output = new StringWriter { NewLine = "\n" };
        Tutorial.Run(output);
        string[] inProcess = output.ToString().Split('\n').Where(l => !l.StartsWith("Vector path", StringComparison.Ordinal)).ToArray();
        string[] all = RunSample(knob).Split('\n');
        Assert.Contains(vectorPath, all);
        string[] child = all.Where(l => !l.StartsWith("Vector path", StringComparison.Ordinal)).ToArray();
        Assert.Contains(inProcess, l => l.StartsWith("LSTM: ", StringComparison.Ordinal));
        bool fusedThere = fusedHere && knob == "DOTNET_EnableAVX512";
        if (fusedHere == fusedThere)
        {
            Assert.Equal(inProcess, child);
            return;
        }

        Assert.Equal(inProcess.Length, child.Length);
        for (int i = 0; i < inProcess.Length; i++)
        {
            string[] a = inProcess[i].Split(' ');
            string[] b = child[i].Split(' ');
            Assert.True(a.Length == b.Length, $"line {i}: '{inProcess[i]}' against '{child[i]}'");
            for (int j = 0; j < a.Length; j++)
            {
                bool numbers = double.TryParse(a[j].Trim(',', '[', ']'), System.Globalization.CultureInfo.InvariantCulture, out double x)
                    & double.TryParse(b[j].Trim(',', '[', ']'), System.Globalization.CultureInfo.InvariantCulture, out double y);
                Assert.True(numbers ? Math.Abs(x - y) <= 1e-5 * Math.Max(1, Math.Abs(x)) : a[j] == b[j], $"line {i}: '{inProcess[i]}' against '{child[i]}'");
            }
        }
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
