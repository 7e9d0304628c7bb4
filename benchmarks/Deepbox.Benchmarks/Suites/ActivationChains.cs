// What bounds the cell update (issue 18): the gate activations' chains of dependent operations. Each benchmark applies
// one activation to 256 eight-float vectors, either independent of one another (throughput: how many the core keeps in
// flight) or each on the result of the one before (latency: the length of the chain). Times are per vector.
using System;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using Deepbox;

namespace Deepbox.Benchmarks.Suites;

/// <summary>
/// Activation_Chains: <see cref="Activations.Sigmoid(Vector256{float})"/>, <see cref="Activations.Tanh(Vector256{float})"/>
/// and <see cref="Activations.GateSigmoid(Vector256{float})"/> on <see cref="Vectors"/> 8-float vectors in L1, independent
/// (<c>*Independent</c>) and chained (<c>*Chain</c>). BenchmarkDotNet (<c>--filter '*Activation_Chains*'</c>) or
/// <c>loop 3 SigmoidChain --filter '*Activation_Chains*'</c> (µs a call over <see cref="Vectors"/> vectors).
/// </summary>
public class Activation_Chains
{
    /// <summary>Vectors a call: 8 KB, in L1.</summary>
    public const int Vectors = 256;

    private readonly float[] _values = new float[Vectors * 8];
    private readonly float[] _start = new float[Vectors * 8];
    private Vector256<float> _last;

    [GlobalSetup(Targets = [nameof(SigmoidIndependent), nameof(TanhIndependent), nameof(GateSigmoidIndependent), nameof(SigmoidChain), nameof(TanhChain), nameof(GateSigmoidChain)])]
    public void Setup()
    {
        var rng = new System.Random(7);
        for (int i = 0; i < _start.Length; i++)
        {
            _start[i] = (float)((rng.NextDouble() * 8) - 4); // gate sums of an LSTM in use
        }
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void SigmoidIndependent()
    {
        _start.CopyTo(_values, 0); // 8 KB: a few hundred ns of the call, the same in every benchmark
        for (int i = 0; i < _values.Length; i += 8)
        {
            Activations.Sigmoid(Vector256.Create(_values.AsSpan(i))).CopyTo(_values.AsSpan(i));
        }
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void TanhIndependent()
    {
        _start.CopyTo(_values, 0);
        for (int i = 0; i < _values.Length; i += 8)
        {
            Activations.Tanh(Vector256.Create(_values.AsSpan(i))).CopyTo(_values.AsSpan(i));
        }
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void GateSigmoidIndependent()
    {
        _start.CopyTo(_values, 0);
        for (int i = 0; i < _values.Length; i += 8)
        {
            Activations.GateSigmoid(Vector256.Create(_values.AsSpan(i))).CopyTo(_values.AsSpan(i));
        }
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void SigmoidChain()
    {
        Vector256<float> x = Vector256.Create(_start.AsSpan());
        for (int i = 0; i < Vectors; i++)
        {
            x = Activations.Sigmoid(x);
        }

        _last = x; // kept, so the chain is not optimized away
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void TanhChain()
    {
        Vector256<float> x = Vector256.Create(_start.AsSpan());
        for (int i = 0; i < Vectors; i++)
        {
            x = Activations.Tanh(x);
        }

        _last = x; // kept, so the chain is not optimized away
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void GateSigmoidChain()
    {
        Vector256<float> x = Vector256.Create(_start.AsSpan());
        for (int i = 0; i < Vectors; i++)
        {
            x = Activations.GateSigmoid(x);
        }

        _last = x; // kept, so the chain is not optimized away
    }
}
