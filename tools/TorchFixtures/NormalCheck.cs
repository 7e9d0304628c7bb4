using System;
using System.Linq;
using Deepbox;
using TorchSharp;

namespace TorchFixtures;

/// <summary>
/// <c>TorchGenerator.Normal</c> against libtorch's <c>torch.randn</c> after <c>torch.manual_seed</c>, bit for bit: sizes
/// below 16 (the double path) to 4096 (the Box-Muller of 16 at a time, with and without the redrawn tail), six seeds,
/// and three tensors in a row from one seed (the double path's cached second normal). Nothing is written: it fails loudly.
/// </summary>
internal static class NormalCheck
{
    private static readonly int[] Seeds = [0, 1, 7, 42, 12345, int.MaxValue];

    private static readonly int[] Sizes = [1, 2, 3, 5, 15, 16, 17, 40, 65, 100, 1000, 4096];

    public static void Run()
    {
        int values = 0;
        foreach (int seed in Seeds)
        {
            foreach (int n in Sizes)
            {
                torch.manual_seed(seed);
                Compare($"seed {seed}, {n} values", torch.randn(n).data<float>().ToArray(), new TorchGenerator(unchecked((ulong)(long)seed)), n);
                values += n;
            }
        }

        torch.manual_seed(3);
        var generator = new TorchGenerator(3);
        foreach (int n in new[] { 3, 5, 20 })
        {
            Compare($"seed 3, then {n} values", torch.randn(n).data<float>().ToArray(), generator, n);
            values += n;
        }

        Console.WriteLine($"  TorchGenerator.Normal: {values:N0} values, bit for bit libtorch's torch.randn");
    }

    private static void Compare(string what, float[] expected, TorchGenerator generator, int n)
    {
        var actual = new float[n];
        generator.Normal(actual);
        int at = Enumerable.Range(0, n).FirstOrDefault(i => BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]), -1);
        if (at >= 0)
        {
            throw new InvalidOperationException($"TorchGenerator.Normal differs from libtorch's randn ({what}) at [{at}]: libtorch {expected[at]:R}, Deepbox {actual[at]:R}.");
        }
    }
}
