// Issue 7's "decaying state" row: the input goes to zero for thousands of steps, and a step must not get slower than
// 1.1x a step on a steady input. .NET has no flush-to-zero switch, so a state decaying towards zero would sink into
// subnormal floats, which x86 cores may process far more slowly; the generated step flushes state values below 1e-30
// to zero itself (the emitted Flush). This suite times Deepbox's step on a steady and on a decaying input, and, as a
// control, a hand-written copy of the same step without the flush, to show what the subnormals would cost here.
using Deepbox.CompilerServices;
using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Deepbox;

namespace Deepbox.Benchmarks.Suites;

/// <summary>The decaying-state model: <c>LSTM(8, 32)</c>, the size of the S32 streaming workload.</summary>
[Lstm(8, 32, BatchFirst = true)]
public sealed partial class DecayLstm;

/// <summary>
/// Decay_Lstm: <see cref="Steps"/> streaming steps per call of <see cref="DecayLstm"/>, on a steady input and on an input
/// that has gone to zero (the state decaying from h = 0.5, c = 1 at the start of every call), and the same pair for the
/// control <see cref="UnflushedLstmControl"/> (the same arithmetic without the flush). Times are per step. Deepbox's pair
/// and the control's pair are separate BenchmarkDotNet categories, each with its steady benchmark as the baseline.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class Decay_Lstm
{
    /// <summary>Steps per call: the decay reaches float's subnormal range (below 1.18e-38) around step 1700 (see <see cref="DecayProfile"/>).</summary>
    public const int Steps = 4096;

    private DecayLstm _model = null!;
    private ModelState _state = null!;
    private UnflushedLstmControl _control = null!;
    private readonly float[] _controlH = new float[DecayWeights.Hidden];
    private readonly float[] _controlC = new float[DecayWeights.Hidden];
    private readonly float[] _steadyInput = DecayWeights.SteadyInput();
    private readonly float[] _zeroInput = new float[DecayWeights.Input];
    private readonly float[] _output = new float[DecayWeights.Hidden];

    /// <summary>
    /// Builds the model (weights through <c>LoadStateDict</c>) and the control, and checks what is measured
    /// (<see cref="DecayProfile.Verify"/>): the control computes Deepbox's step bit for bit until Deepbox flushes, a
    /// decaying call takes Deepbox's state below 1e-20 and then to exactly 0 without a subnormal value on the way, and
    /// the control's state does turn subnormal. Throws otherwise, so nothing unchecked is timed.
    /// </summary>
    [GlobalSetup]
    public void Setup()
    {
        DecayProfile profile = DecayProfile.Verify();
        Console.WriteLine($"// Decay_Lstm setup: {profile}");
        _model = DecayWeights.CreateModel();
        _state = _model.CreateState();
        _control = new UnflushedLstmControl(DecayWeights.Values());
        Array.Clear(_controlH);
        Array.Clear(_controlC);
    }

    /// <summary>Deepbox: <c>Step</c> on a constant input of 0.5 in every feature, the state carried from call to call.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    [BenchmarkCategory("Deepbox")]
    public void Steady()
    {
        DecayLstm model = _model;
        ModelState state = _state;
        for (int t = 0; t < Steps; t++)
        {
            model.Step(_steadyInput, state, _output);
        }
    }

    /// <summary>Deepbox: the state reset to h = 0.5, c = 1, then <see cref="Steps"/> steps of zero input.</summary>
    [Benchmark(OperationsPerInvoke = Steps)]
    [BenchmarkCategory("Deepbox")]
    public void Decaying()
    {
        DecayLstm model = _model;
        ModelState state = _state;
        Span<float> s = state.AsSpan();
        DecayWeights.ResetDecaying(s[..DecayWeights.Hidden], s.Slice(DecayWeights.Hidden, DecayWeights.Hidden));
        for (int t = 0; t < Steps; t++)
        {
            model.Step(_zeroInput, state, _output);
        }
    }

    /// <summary>Control (not Deepbox): the same step without the flush, on the steady input, the state carried.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    [BenchmarkCategory("Control")]
    public void SteadyWithoutFlush()
    {
        UnflushedLstmControl control = _control;
        for (int t = 0; t < Steps; t++)
        {
            control.Step(_steadyInput, _controlH, _controlC);
        }
    }

    /// <summary>Control (not Deepbox): the same step without the flush, reset to h = 0.5, c = 1, then zero input.</summary>
    [Benchmark(OperationsPerInvoke = Steps)]
    [BenchmarkCategory("Control")]
    public void DecayingWithoutFlush()
    {
        UnflushedLstmControl control = _control;
        DecayWeights.ResetDecaying(_controlH, _controlC);
        for (int t = 0; t < Steps; t++)
        {
            control.Step(_zeroInput, _controlH, _controlC);
        }
    }
}

/// <summary>
/// The weights and inputs of the decaying-state benchmark: every weight uniform in ±0.01 (seeded), biases zero except
/// the forget gate's part of <c>bias_ih</c> (PyTorch's gate order i, f, g, o: rows [H, 2H)), which is 3. So
/// f = sigmoid(3 + small) ≈ 0.95, i and o ≈ 0.5, and with zero input c shrinks about 0.95× per step.
/// </summary>
public static class DecayWeights
{
    /// <summary>I.</summary>
    public const int Input = 8;

    /// <summary>H.</summary>
    public const int Hidden = 32;

    /// <summary>The weights' seed (<see cref="Random"/>).</summary>
    public const int Seed = 2024;

    /// <summary>The forget gate's input bias.</summary>
    public const float ForgetBias = 3f;

    /// <summary>The weights' magnitude bound.</summary>
    public const float Scale = 0.01f;

    /// <summary>The steady input: 0.5 in every feature.</summary>
    public static float[] SteadyInput()
    {
        var x = new float[Input];
        Array.Fill(x, 0.5f);
        return x;
    }

    /// <summary>The state a decaying call starts from: h = 0.5, c = 1.</summary>
    public static void ResetDecaying(Span<float> h, Span<float> c)
    {
        h.Fill(0.5f);
        c.Fill(1f);
    }

    /// <summary>The parameters by PyTorch name, with their shapes.</summary>
    public static Dictionary<string, (int[] Shape, float[] Values)> Values()
    {
        var rng = new Random(Seed);
        float[] Uniform(int n)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++)
            {
                a[i] = (float)((rng.NextDouble() * 2 - 1) * Scale);
            }

            return a;
        }

        int g = 4 * Hidden;
        float[] wih = Uniform(g * Input);
        float[] whh = Uniform(g * Hidden);
        var bih = new float[g];
        bih.AsSpan(Hidden, Hidden).Fill(ForgetBias);
        return new Dictionary<string, (int[], float[])>
        {
            ["weight_ih_l0"] = ([g, Input], wih),
            ["weight_hh_l0"] = ([g, Hidden], whh),
            ["bias_ih_l0"] = ([g], bih),
            ["bias_hh_l0"] = ([g], new float[g]),
        };
    }

    /// <summary>The Deepbox model with <see cref="Values"/> loaded through <c>LoadStateDict</c>, in inference mode.</summary>
    public static DecayLstm CreateModel()
    {
        if (DecayLstm.StateLength != 2 * Hidden || DecayLstm.InputSize != Input || DecayLstm.OutputSize != Hidden)
        {
            throw new InvalidOperationException($"DecayLstm's state is {DecayLstm.StateLength} floats, not h then c ({2 * Hidden}): the suite's reset would be wrong.");
        }

        var model = new DecayLstm(1);
        model.LoadStateDict(ToTensors(Values()));
        model.Eval();
        return model;
    }

    private static Dictionary<string, Tensor> ToTensors(Dictionary<string, (int[] Shape, float[] Values)> values)
    {
        var d = new Dictionary<string, Tensor>();
        foreach ((string name, (int[] shape, float[] v)) in values)
        {
            d[name] = Tensor.FromArray(v, shape);
        }

        return d;
    }
}

/// <summary>
/// CONTROL, NOT DEEPBOX. A hand-written LSTM(8, 32) step that computes what Deepbox's generated step computes (the same
/// packed weight panels, packed by the same <see cref="ModelSupport"/> routines, the same order of fused multiply-adds,
/// the same <see cref="Activations"/>, Vector256) with one difference: no flush of small state values to zero. Its
/// schedule is simpler (two blocks of 8 units at a time, each block's update right after its products); only its
/// results are the kernel's. It exists to show, beside Deepbox's numbers, what a subnormal state costs on the machine;
/// <see cref="DecayProfile.Verify"/> checks that it computes Deepbox's step bit for bit as long as no state value is
/// below Deepbox's flush threshold.
/// </summary>
public sealed class UnflushedLstmControl
{
    private const int I = DecayWeights.Input;
    private const int H = DecayWeights.Hidden;
    private const int W = 8; // floats per Vector256

    // Panels as the generated kernel reads them (ModelSupport.PanelIndex): block b of 8 units holds, for each input k,
    // the 8 units' rows of gates i, f, g, o side by side (32 floats); the input part at b * I * 32, the hidden part at
    // b * H * 32. Biases b_ih + b_hh, gate-interleaved the same way.
    private readonly float[] _wih = new float[4 * H * I];
    private readonly float[] _whh = new float[4 * H * H];
    private readonly float[] _bias = new float[4 * H];
    private readonly float[] _scratch = new float[H];

    /// <summary>Packs PyTorch-layout parameters (<c>weight_ih_l0 [4H, I]</c>, <c>weight_hh_l0 [4H, H]</c>, the two biases).</summary>
    public UnflushedLstmControl(Dictionary<string, (int[] Shape, float[] Values)> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ModelSupport.PackGateInterleaved(parameters["weight_ih_l0"].Values, 4, H, I, W, I, I, _wih);
        ModelSupport.PackGateInterleaved(parameters["weight_hh_l0"].Values, 4, H, H, W, H, H, _whh);
        ModelSupport.PackGateBias(parameters["bias_ih_l0"].Values, parameters["bias_hh_l0"].Values, 4, H, W, 4, _bias);
    }

    /// <summary>One step: reads x (I floats), updates h and c (H floats each) in place. No flush. Allocates nothing.</summary>
    /// <remarks>
    /// Never inlined, as Deepbox's step kernel is a call of its own: inlined into the benchmark's loop (which tier-1 with
    /// PGO does otherwise), this step ran 1.4 to 1.7 times slower on the suite's machine, with or without subnormals.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public void Step(ReadOnlySpan<float> x, Span<float> h, Span<float> c)
    {
        if (x.Length < I || h.Length < H || c.Length < H)
        {
            throw new ArgumentException("x needs 8 floats, h and c 32 each");
        }

        ref float x0 = ref MemoryMarshal.GetReference(x);
        ref float h0 = ref MemoryMarshal.GetReference(h);
        ref float c0 = ref MemoryMarshal.GetReference(c);
        ref float wih0 = ref MemoryMarshal.GetArrayDataReference(_wih);
        ref float whh0 = ref MemoryMarshal.GetArrayDataReference(_whh);
        ref float b0 = ref MemoryMarshal.GetArrayDataReference(_bias);
        ref float out0 = ref MemoryMarshal.GetArrayDataReference(_scratch);

        // Two blocks of 8 units at a time.
        for (int j = 0; j < H; j += 2 * W)
        {
            int col0 = j * 4;
            int col1 = (j + W) * 4;
            Vector256<float> ai0 = Vector256.LoadUnsafe(ref b0, (nuint)col0);
            Vector256<float> af0 = Vector256.LoadUnsafe(ref b0, (nuint)(col0 + 8));
            Vector256<float> ag0 = Vector256.LoadUnsafe(ref b0, (nuint)(col0 + 16));
            Vector256<float> ao0 = Vector256.LoadUnsafe(ref b0, (nuint)(col0 + 24));
            Vector256<float> ai1 = Vector256.LoadUnsafe(ref b0, (nuint)col1);
            Vector256<float> af1 = Vector256.LoadUnsafe(ref b0, (nuint)(col1 + 8));
            Vector256<float> ag1 = Vector256.LoadUnsafe(ref b0, (nuint)(col1 + 16));
            Vector256<float> ao1 = Vector256.LoadUnsafe(ref b0, (nuint)(col1 + 24));
            ref float wxp0 = ref Unsafe.Add(ref wih0, col0 * I);
            ref float wxp1 = ref Unsafe.Add(ref wih0, col1 * I);
            for (int k = 0; k < I; k++)
            {
                Vector256<float> xk = Vector256.Create(Unsafe.Add(ref x0, k));
                ref float wk0 = ref Unsafe.Add(ref wxp0, k * 32);
                ai0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0), xk, ai0);
                af0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0, 8), xk, af0);
                ag0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0, 16), xk, ag0);
                ao0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0, 24), xk, ao0);
                ref float wk1 = ref Unsafe.Add(ref wxp1, k * 32);
                ai1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1), xk, ai1);
                af1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1, 8), xk, af1);
                ag1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1, 16), xk, ag1);
                ao1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1, 24), xk, ao1);
            }

            // W_hh h in chains of its own from zero, added to the input sums, as the generated kernels sum.
            ref float whp0 = ref Unsafe.Add(ref whh0, col0 * H);
            ref float whp1 = ref Unsafe.Add(ref whh0, col1 * H);
            Vector256<float> pi0 = Vector256<float>.Zero, pf0 = Vector256<float>.Zero, pg0 = Vector256<float>.Zero, po0 = Vector256<float>.Zero;
            Vector256<float> pi1 = Vector256<float>.Zero, pf1 = Vector256<float>.Zero, pg1 = Vector256<float>.Zero, po1 = Vector256<float>.Zero;
            for (int k = 0; k < H; k++)
            {
                Vector256<float> hk = Vector256.Create(Unsafe.Add(ref h0, k));
                ref float wk0 = ref Unsafe.Add(ref whp0, k * 32);
                pi0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0), hk, pi0);
                pf0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0, 8), hk, pf0);
                pg0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0, 16), hk, pg0);
                po0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk0, 24), hk, po0);
                ref float wk1 = ref Unsafe.Add(ref whp1, k * 32);
                pi1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1), hk, pi1);
                pf1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1, 8), hk, pf1);
                pg1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1, 16), hk, pg1);
                po1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref wk1, 24), hk, po1);
            }

            ai0 += pi0;
            af0 += pf0;
            ag0 += pg0;
            ao0 += po0;
            ai1 += pi1;
            af1 += pf1;
            ag1 += pg1;
            ao1 += po1;

            // The cell update, as generated but WITHOUT Flush around c and h.
            Vector256<float> cNext0 = Vector256.FusedMultiplyAdd(Activations.Sigmoid(af0), Vector256.LoadUnsafe(ref c0, (nuint)j), Activations.Sigmoid(ai0) * Activations.Tanh(ag0));
            Vector256.StoreUnsafe(cNext0, ref c0, (nuint)j);
            Vector256.StoreUnsafe(Activations.Sigmoid(ao0) * Activations.Tanh(cNext0), ref out0, (nuint)j);
            Vector256<float> cNext1 = Vector256.FusedMultiplyAdd(Activations.Sigmoid(af1), Vector256.LoadUnsafe(ref c0, (nuint)(j + W)), Activations.Sigmoid(ai1) * Activations.Tanh(ag1));
            Vector256.StoreUnsafe(cNext1, ref c0, (nuint)(j + W));
            Vector256.StoreUnsafe(Activations.Sigmoid(ao1) * Activations.Tanh(cNext1), ref out0, (nuint)(j + W));
        }

        _scratch.AsSpan().CopyTo(h);
    }
}

/// <summary>
/// What one decaying call does to the state, for Deepbox and for the control, step by step from h = 0.5, c = 1 with zero
/// input (the report prints it; the suite's setup checks it).
/// </summary>
/// <param name="DeepboxBelow1e20">The first step (1-based) after which some state value of Deepbox is nonzero and below 1e-20 in magnitude.</param>
/// <param name="DeepboxSmallest">The smallest nonzero state magnitude Deepbox's state ever held.</param>
/// <param name="DeepboxZeroFrom">The first step after which Deepbox's whole state is exactly 0 (and stays so), or -1.</param>
/// <param name="DeepboxSubnormalSteps">Steps after which Deepbox's state held a subnormal value (must be 0).</param>
/// <param name="ControlSubnormalFrom">The first step after which the control's state held a subnormal value, or -1.</param>
/// <param name="ControlSubnormalSteps">Steps after which the control's state held a subnormal value.</param>
/// <param name="ControlFinalLargest">The largest state magnitude of the control after the last step.</param>
/// <param name="ControlFinalSmallest">The smallest nonzero state magnitude of the control after the last step (0 if all zero).</param>
/// <param name="DecayPerStep">The geometric mean factor by which the control's largest |c| shrank per step over steps 100 to 1000.</param>
/// <param name="SteadySame">Steps of the steady input over which Deepbox's and the control's states were checked bit for bit.</param>
/// <param name="DecaySameUntil">The last step after which Deepbox's and the control's decaying states were identical bit for bit.</param>
public sealed record DecayProfile(
    int DeepboxBelow1e20,
    float DeepboxSmallest,
    int DeepboxZeroFrom,
    int DeepboxSubnormalSteps,
    int ControlSubnormalFrom,
    int ControlSubnormalSteps,
    float ControlFinalLargest,
    float ControlFinalSmallest,
    double DecayPerStep,
    int SteadySame,
    int DecaySameUntil)
{
    /// <summary>Deepbox's flush threshold (the emitted <c>Flush</c>).</summary>
    public const float FlushBelow = 1e-30f;

    /// <summary>Runs the steady check and one decaying call of both, checks them, and returns the profile.</summary>
    /// <exception cref="InvalidOperationException">When the benchmark would not measure what it says.</exception>
    public static DecayProfile Verify()
    {
        const int H = DecayWeights.Hidden;
        const int N = Decay_Lstm.Steps;
        DecayLstm model = DecayWeights.CreateModel();
        ModelState state = model.CreateState();
        var control = new UnflushedLstmControl(DecayWeights.Values());
        var ch = new float[H];
        var cc = new float[H];
        var y = new float[H];
        float[] steady = DecayWeights.SteadyInput();
        var zero = new float[DecayWeights.Input];

        // Steady input from a zero state: the control must compute Deepbox's step exactly.
        const int steadySteps = 256;
        for (int t = 1; t <= steadySteps; t++)
        {
            model.Step(steady, state, y);
            control.Step(steady, ch, cc);
            if (!SameBits(state.AsSpan(), ch, cc))
            {
                throw new InvalidOperationException($"Decay_Lstm: the control's state differs from Deepbox's after {t} steady steps: the control is not the same step, so its numbers would mean nothing.");
            }
        }

        Span<float> s = state.AsSpan();
        DecayWeights.ResetDecaying(s[..H], s.Slice(H, H));
        DecayWeights.ResetDecaying(ch, cc);
        int below = -1, zeroFrom = -1, subnormal = 0, controlFrom = -1, controlSubnormal = 0, sameUntil = 0;
        bool same = true;
        float smallest = float.PositiveInfinity;
        float c100 = 0, c1000 = 0;
        for (int t = 1; t <= N; t++)
        {
            model.Step(zero, state, y);
            control.Step(zero, ch, cc);
            s = state.AsSpan();
            float min = SmallestNonzero(s);
            smallest = MathF.Min(smallest, min);
            if (below < 0 && min < 1e-20f)
            {
                below = t;
            }

            if (AnySubnormal(s))
            {
                subnormal++;
            }

            bool allZero = SmallestNonzero(s) == float.PositiveInfinity;
            zeroFrom = allZero ? (zeroFrom < 0 ? t : zeroFrom) : -1;
            if (AnySubnormal(ch) || AnySubnormal(cc))
            {
                controlSubnormal++;
                controlFrom = controlFrom < 0 ? t : controlFrom;
            }

            if (same && SameBits(s, ch, cc))
            {
                sameUntil = t;
            }
            else if (same)
            {
                same = false;
                // The first difference must come from Deepbox's flush: the control then holds a nonzero value below it.
                float controlMin = MathF.Min(SmallestNonzero(ch), SmallestNonzero(cc));
                if (!(controlMin < FlushBelow))
                {
                    throw new InvalidOperationException($"Decay_Lstm: the control's decaying state differs from Deepbox's after step {t} although no value is below the flush threshold (smallest {controlMin:G3}).");
                }
            }

            if (t == 100)
            {
                c100 = Fixture.MaxAbs(cc);
            }
            else if (t == 1000)
            {
                c1000 = Fixture.MaxAbs(cc);
            }
        }

        float controlMax = MathF.Max(Fixture.MaxAbs(ch), Fixture.MaxAbs(cc));
        float controlSmallest = MathF.Min(SmallestNonzero(ch), SmallestNonzero(cc));
        var profile = new DecayProfile(
            below,
            smallest,
            zeroFrom,
            subnormal,
            controlFrom,
            controlSubnormal,
            controlMax,
            float.IsPositiveInfinity(controlSmallest) ? 0 : controlSmallest,
            Math.Pow(c1000 / (double)c100, 1.0 / 900),
            steadySteps,
            sameUntil);

        string why = below < 0 ? $"Deepbox's smallest nonzero state value never went below 1e-20 (smallest {smallest:G3}): {N} steps do not reach the decay being measured"
            : subnormal > 0 ? $"Deepbox's state held a subnormal value after {subnormal} of {N} steps: the flush does not keep subnormals out"
            : zeroFrom < 0 ? $"Deepbox's state is not exactly 0 after {N} steps (smallest nonzero {SmallestNonzero(state.AsSpan()):G3})"
            : controlFrom < 0 ? $"the control's state never turned subnormal in {N} steps, so the control would not show what subnormals cost"
            : string.Empty;
        if (why.Length > 0)
        {
            throw new InvalidOperationException($"Decay_Lstm: {why}. {profile}");
        }

        return profile;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"Deepbox: a state value below 1e-20 from step {DeepboxBelow1e20}, smallest nonzero {DeepboxSmallest:G3}, the whole state exactly 0 from step {DeepboxZeroFrom}, " +
        $"subnormal after {DeepboxSubnormalSteps} steps; control (no flush): |c| shrinking {DecayPerStep:F4}x per step, identical to Deepbox through step {DecaySameUntil}, " +
        $"subnormal from step {ControlSubnormalFrom}, after {ControlSubnormalSteps} of {Decay_Lstm.Steps} steps, at the end largest {ControlFinalLargest:G3}, smallest nonzero {ControlFinalSmallest:G3}";

    private static bool SameBits(ReadOnlySpan<float> state, ReadOnlySpan<float> h, ReadOnlySpan<float> c) =>
        MemoryMarshal.AsBytes(state[..h.Length]).SequenceEqual(MemoryMarshal.AsBytes(h))
        && MemoryMarshal.AsBytes(state.Slice(h.Length, c.Length)).SequenceEqual(MemoryMarshal.AsBytes(c));

    private static bool AnySubnormal(ReadOnlySpan<float> a)
    {
        foreach (float v in a)
        {
            if (float.IsSubnormal(v))
            {
                return true;
            }
        }

        return false;
    }

    private static float SmallestNonzero(ReadOnlySpan<float> a)
    {
        float min = float.PositiveInfinity;
        foreach (float v in a)
        {
            if (v != 0)
            {
                min = MathF.Min(min, MathF.Abs(v));
            }
        }

        return min;
    }
}
