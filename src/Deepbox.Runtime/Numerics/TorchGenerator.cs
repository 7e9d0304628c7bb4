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
    private double? _nextDoubleNormal; // PyTorch's next_double_normal_sample: the second of a Box-Muller pair

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

    /// <summary>
    /// Fills <paramref name="destination"/> as PyTorch's <c>tensor.normal_(mean, std)</c> fills a contiguous float32 CPU
    /// tensor of 16 values or more (<c>nn.Embedding</c>'s initialization): first one uniform per value
    /// (<c>uniform_(0, 1)</c>), then, 16 values at a time, Box-Muller over the pairs (j, j + 8), with the logarithm, sine
    /// and cosine of libtorch's AVX2 build (<c>avx_mathfun.h</c>'s Cephes polynomials, multiply-adds fused as that build
    /// fuses them); when the count is not a multiple of 16, 16 fresh uniforms replace the last 16 values and are
    /// transformed again. Bit for bit libtorch's on x86-64 with AVX2 (checked against libtorch 2.10 by the seeded-init
    /// fixtures). Fewer than 16 values take PyTorch's other path, one double-precision normal per value.
    /// </summary>
    /// <param name="destination">The values to fill, in row-major order.</param>
    /// <param name="mean">The mean.</param>
    /// <param name="std">The standard deviation.</param>
    public void Normal(Span<float> destination, double mean = 0, double std = 1)
    {
        int n = destination.Length;
        if (n < 16)
        {
            NormalDoubles(destination, mean, std);
            return;
        }

        Uniform(destination, 0, 1);
        float m = (float)mean;
        float s = (float)std;
        for (int i = 0; i + 16 <= n; i += 16)
        {
            BoxMuller16(destination.Slice(i, 16), m, s);
        }

        if (n % 16 != 0)
        {
            Span<float> tail = destination.Slice(n - 16);
            Uniform(tail, 0, 1);
            BoxMuller16(tail, m, s);
        }
    }

    /// <summary>PyTorch's <c>normal_fill_16_AVX2</c>: 8 pairs of uniforms in place to 16 normals.</summary>
    private static void BoxMuller16(Span<float> data, float mean, float std)
    {
        const float TwoPi = (float)(2 * Math.PI);
        for (int j = 0; j < 8; j++)
        {
            float radius = MathF.Sqrt(-2f * CephesLog(1f - data[j]));
            (float sin, float cos) = CephesSinCos(TwoPi * data[j + 8]);
            data[j] = MathF.FusedMultiplyAdd(radius * cos, std, mean);
            data[j + 8] = MathF.FusedMultiplyAdd(radius * sin, std, mean);
        }
    }

    /// <summary>The natural logarithm of <c>avx_mathfun.h</c>'s <c>log256_ps</c> (Cephes' <c>logf</c>), one lane, for x in (0, 1].</summary>
    private static float CephesLog(float x)
    {
        x = MathF.Max(x, BitConverter.Int32BitsToSingle(0x00800000)); // no subnormals
        int bits = BitConverter.SingleToInt32Bits(x);
        float e = ((bits >>> 23) - 0x7f) + 1f;
        x = BitConverter.Int32BitsToSingle((bits & ~0x7f800000) | BitConverter.SingleToInt32Bits(0.5f)); // the mantissa, in [0.5, 1)
        // Below sqrt(1/2), x is taken twice and the exponent lowered: x - 1 in [sqrt(1/2) - 1, sqrt(2) - 1).
        bool small = x < 0.707106781186547524f;
        float twice = small ? x : 0f;
        x -= 1f;
        e -= small ? 1f : 0f;
        x += twice;
        float z = x * x;
        float y = 7.0376836292E-2f;
        y = MathF.FusedMultiplyAdd(y, x, -1.1514610310E-1f);
        y = MathF.FusedMultiplyAdd(y, x, 1.1676998740E-1f);
        y = MathF.FusedMultiplyAdd(y, x, -1.2420140846E-1f);
        y = MathF.FusedMultiplyAdd(y, x, 1.4249322787E-1f);
        y = MathF.FusedMultiplyAdd(y, x, -1.6668057665E-1f);
        y = MathF.FusedMultiplyAdd(y, x, 2.0000714765E-1f);
        y = MathF.FusedMultiplyAdd(y, x, -2.4999993993E-1f);
        y = MathF.FusedMultiplyAdd(y, x, 3.3333331174E-1f);
        y *= x;
        y = MathF.FusedMultiplyAdd(y, z, e * -2.12194440e-4f);
        y = MathF.FusedMultiplyAdd(z, -0.5f, y);
        x += y;
        return MathF.FusedMultiplyAdd(e, 0.693359375f, x);
    }

    /// <summary>The sine and cosine of <c>avx_mathfun.h</c>'s <c>sincos256_ps</c> (Cephes' <c>sinf</c>/<c>cosf</c>), one lane.</summary>
    private static (float Sin, float Cos) CephesSinCos(float x)
    {
        int signSin = BitConverter.SingleToInt32Bits(x) & unchecked((int)0x80000000);
        x = MathF.Abs(x);
        int octant = (int)(x * 1.27323954473516f); // x * 4 / pi, truncated
        octant = (octant + 1) & ~1;
        float q = octant;
        signSin ^= (octant & 4) << 29;
        int signCos = (~(octant - 2) & 4) << 29;
        bool sinPoly = (octant & 2) == 0; // which polynomial gives the sine
        // x - q * pi/4 in three parts (extended precision).
        x = MathF.FusedMultiplyAdd(q, -0.78515625f, x);
        x = MathF.FusedMultiplyAdd(q, -2.4187564849853515625e-4f, x);
        x = MathF.FusedMultiplyAdd(q, -3.77489497744594108e-8f, x);
        float z = x * x;
        float c = MathF.FusedMultiplyAdd(2.443315711809948E-005f, z, -1.388731625493765E-003f);
        c = MathF.FusedMultiplyAdd(c, z, 4.166664568298827E-002f);
        c *= z;
        c = MathF.FusedMultiplyAdd(c, z, -(z * 0.5f));
        c += 1f;
        float s = MathF.FusedMultiplyAdd(-1.9515295891E-4f, z, 8.3321608736E-3f);
        s = MathF.FusedMultiplyAdd(s, z, -1.6666654611E-1f);
        s *= z;
        s = MathF.FusedMultiplyAdd(s, x, x);
        float sin = sinPoly ? s : c;
        float cos = sinPoly ? c : s;
        return (BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(sin) ^ signSin), BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(cos) ^ signCos));
    }

    /// <summary>
    /// PyTorch's element-wise path for fewer than 16 values: <c>at::normal_distribution&lt;double&gt;</c>, Box-Muller
    /// in double from two 53-bit uniforms, both results used in turn, each rounded to float.
    /// </summary>
    private void NormalDoubles(Span<float> destination, double mean, double std)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            double normal;
            if (_nextDoubleNormal is { } cached)
            {
                normal = cached;
                _nextDoubleNormal = null;
            }
            else
            {
                double u1 = UniformDouble();
                double u2 = UniformDouble();
                double r = Math.Sqrt(-2 * double.LogP1(-u2));
                double theta = 2 * Math.PI * u1;
                _nextDoubleNormal = r * Math.Sin(theta); // the generator keeps the second normal for the next call, as PyTorch's does
                normal = r * Math.Cos(theta);
            }

            destination[i] = (float)((normal * std) + mean);
        }
    }

    /// <summary>A 53-bit uniform in [0, 1) from two 32-bit outputs (PyTorch's <c>random64()</c>).</summary>
    private double UniformDouble()
    {
        ulong hi = NextUInt32();
        ulong lo = NextUInt32();
        return (((hi << 32) | lo) & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
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
