// Writes tests/Deepbox.Tests/Fixtures: forward and backward passes computed by libtorch (through TorchSharp) for
// configurations paired with the Deepbox declarations of tests/Deepbox.Tests/FixtureModels.cs, PyTorch's seeded
// initialization, and a round trip of a file saved by Deepbox into libtorch. Run it with tools/TorchFixtures/run.sh.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;

namespace TorchFixtures;

internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: TorchFixtures OUTPUT_DIRECTORY   (run.sh passes tests/Deepbox.Tests/Fixtures)");
            return 2;
        }

        string directory = Path.GetFullPath(args[0]);
        Directory.CreateDirectory(directory);

        // One thread: the same summation order on every run (and the machine is shared).
        torch.set_num_threads(1);
        var versions = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["libtorch"] = torch.__version__,
            ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "unknown",
            ["generator"] = "tools/TorchFixtures (regenerate with tools/TorchFixtures/run.sh)",
        };
        Console.WriteLine($"libtorch {versions["libtorch"]}, TorchSharp {versions["torchsharp"]}; writing {directory}");

        Console.WriteLine("forward and backward fixtures:");
        foreach (Config c in Config.All)
        {
            Fixtures.Write(c, directory, versions);
        }

        Console.WriteLine("seeded initialization:");
        SeededInit.Write(directory, versions);
        NormalCheck.Run();

        Console.WriteLine("Deepbox to libtorch:");
        RoundTrip.Save(directory);
        bool ok = RoundTrip.Check(directory);

        long total = new DirectoryInfo(directory).EnumerateFiles("*.safetensors").Sum(f => f.Length);
        Console.WriteLine($"{new DirectoryInfo(directory).EnumerateFiles("*.safetensors").Count()} files, {total:N0} bytes in total");
        return ok ? 0 : 1;
    }
}
