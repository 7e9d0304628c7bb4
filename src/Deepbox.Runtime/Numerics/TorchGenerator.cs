using System;

namespace Deepbox;

/// <summary>
/// PyTorch's CPU random generator: a 32-bit Mersenne Twister (mt19937) seeded as <c>torch.manual_seed</c> seeds it,
/// with PyTorch's float <c>uniform_</c> on top. The same seed gives the same numbers on every machine: only integer
/// arithmetic and correctly rounded float operations are involved.
/// </summary>
public sealed class TorchGenerator
{
    /// <summary>The seed of a PyTorch process that never called <c>manual_seed</c> (<c>default_rng_seed_val</c>).</summary>
    public const ulong DefaultSeed = 67280421310721UL;

    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _state = new uint[N];
    private int _next;

    /// <summary>Seeds the generator as <c>torch.manual_seed(seed)</c> does (the low 32 bits feed mt19937).</summary>
    /// <param name="seed">The seed.</param>
    public TorchGenerator(ulong seed)
    {
        _state[0] = (uint)seed;
        for (int j = 1; j < N; j++)
        {
            _state[j] = (1812433253u * (_state[j - 1] ^ (_state[j - 1] >> 30))) + (uint)j;
        }

        _next = N;
    }

    /// <summary>The next 32-bit output of mt19937 (PyTorch's <c>generator->random()</c>).</summary>
    public uint NextUInt32()
    {
        if (_next >= N)
        {
            Twist();
        }

        uint y = _state[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> as PyTorch's <c>tensor.uniform_(from, to)</c> fills a float32 tensor on the CPU:
    /// one 32-bit output per value, its low 24 bits scaled to [0, 1), then <c>x * (to - from) + from</c> in float with a
    /// single rounding (a fused multiply-add). libtorch builds that kernel once per CPU capability and its AVX2 and
    /// AVX-512 builds contract that expression to an FMA, so this matches PyTorch bit for bit on x86-64 machines with
    /// AVX2 (checked against libtorch 2.10); libtorch's non-AVX build rounds twice and differs by one ulp in about half
    /// the values.
    /// </summary>
    /// <param name="destination">The values to fill, in row-major order.</param>
    /// <param name="from">The lower bound (cast to float first, as PyTorch does).</param>
    /// <param name="to">The upper bound (cast to float first).</param>
    public void Uniform(Span<float> destination, double from, double to)
    {
        float lo = (float)from;
        float range = (float)to - lo;
        for (int i = 0; i < destination.Length; i++)
        {
            float x = (NextUInt32() & 0xFFFFFFu) * (1.0f / 16777216.0f);
            destination[i] = MathF.FusedMultiplyAdd(x, range, lo);
        }
    }

    /// <summary>
    /// <c>nn.init.kaiming_uniform_(w, a=math.sqrt(5))</c>, the default of <c>nn.Linear.weight</c>: bound
    /// <c>sqrt(3) * sqrt(2 / (1 + a^2)) / sqrt(fanIn)</c>, computed in double as PyTorch's Python code does.
    /// </summary>
    /// <param name="destination">The weight values.</param>
    /// <param name="fanIn">The number of input features.</param>
    public void KaimingUniformLinear(Span<float> destination, int fanIn)
    {
        double a = Math.Sqrt(5.0);
        double gain = Math.Sqrt(2.0 / (1 + (a * a)));
        double std = gain / Math.Sqrt(fanIn);
        double bound = Math.Sqrt(3.0) * std;
        Uniform(destination, -bound, bound);
    }

    /// <summary>Fills with <c>U(-1/sqrt(n), 1/sqrt(n))</c>: recurrent weights and biases (n = hidden size) and <c>nn.Linear.bias</c> (n = fan-in).</summary>
    /// <param name="destination">The values.</param>
    /// <param name="n">The hidden size or fan-in; 0 gives zeros, as PyTorch does.</param>
    public void UniformInverseSqrt(Span<float> destination, int n)
    {
        double bound = n > 0 ? 1.0 / Math.Sqrt(n) : 0.0;
        Uniform(destination, -bound, bound);
    }

    private void Twist()
    {
        for (int i = 0; i < N; i++)
        {
            uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7fffffffu);
            uint v = _state[(i + M) % N] ^ (y >> 1);
            if ((y & 1) != 0)
            {
                v ^= 0x9908b0dfu;
            }

            _state[i] = v;
        }

        _next = 0;
    }
}
