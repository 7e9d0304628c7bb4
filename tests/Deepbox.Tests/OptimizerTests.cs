using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox.Tests.Models;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// SGD, Adam, AdamW and gradient clipping against PyTorch's documented update rules, re-implemented per scalar in
/// double below, plus a few values worked out by hand.
/// </summary>
public class OptimizerTests
{
    private const double Tol = 2e-6;

    // Two parameters, one of them longer than two of the optimizers' 512-wide blocks, so every block path runs.
    private static readonly int[][] Shapes = [[3, 2], [1100]];

    private static float InitialValue(int i) => (float)Math.Cos(0.5 * i);

    /// <summary>The gradient of element <paramref name="i"/> at step <paramref name="t"/>: mixed signs and sizes, some zeros.</summary>
    private static float GradientAt(int t, int i) =>
        i % 7 == 0 ? 0f : (float)(Math.Sin((1.3 * i) + (0.7 * t)) * (1 + (i % 3)));

    private static List<Parameter> MakeParameters()
    {
        var list = new List<Parameter>();
        int offset = 0;
        foreach (int[] shape in Shapes)
        {
            var p = new Parameter($"p{list.Count}", shape);
            Span<float> v = p.Value.AsSpan();
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = InitialValue(offset + i);
            }

            offset += v.Length;
            list.Add(p);
        }

        return list;
    }

    private static void SetGradients(List<Parameter> parameters, int t)
    {
        int offset = 0;
        foreach (Parameter p in parameters)
        {
            Span<float> g = p.Grad.AsSpan();
            for (int i = 0; i < g.Length; i++)
            {
                g[i] = GradientAt(t, offset + i);
            }

            offset += g.Length;
        }
    }

    private static float[] Flatten(List<Parameter> parameters) => parameters.SelectMany(p => p.Value.ToArray()).ToArray();

    private static float[] RunSteps(Optimizer optimizer, List<Parameter> parameters, int steps)
    {
        for (int t = 1; t <= steps; t++)
        {
            SetGradients(parameters, t);
            optimizer.Step();
        }

        return Flatten(parameters);
    }

    private static int TotalLength => Shapes.Sum(s => s.Aggregate(1, (a, b) => a * b));

    /// <summary>torch.optim.SGD's documented algorithm, per scalar, in double.</summary>
    private static double[] ReferenceSgd(int steps, double lr, double momentum, double dampening, double weightDecay, bool nesterov)
    {
        int n = TotalLength;
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            double p = InitialValue(i);
            double b = 0;
            for (int t = 1; t <= steps; t++)
            {
                double g = GradientAt(t, i);
                if (weightDecay != 0)
                {
                    g += weightDecay * p;
                }

                if (momentum != 0)
                {
                    b = t == 1 ? g : (momentum * b) + ((1 - dampening) * g);
                    g = nesterov ? g + (momentum * b) : b;
                }

                p -= lr * g;
            }

            result[i] = p;
        }

        return result;
    }

    /// <summary>Adam / AdamW in the textbook form (bias-corrected moments), per scalar, in double.</summary>
    private static double[] ReferenceAdam(int steps, double lr, double beta1, double beta2, double eps, double weightDecay, bool amsgrad, bool decoupled)
    {
        int n = TotalLength;
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            double p = InitialValue(i), m = 0, v = 0, vMax = 0;
            for (int t = 1; t <= steps; t++)
            {
                double g = GradientAt(t, i);
                if (decoupled)
                {
                    p *= 1 - (lr * weightDecay);
                }
                else
                {
                    g += weightDecay * p;
                }

                m = (beta1 * m) + ((1 - beta1) * g);
                v = (beta2 * v) + ((1 - beta2) * g * g);
                vMax = Math.Max(vMax, v);
                double mHat = m / (1 - Math.Pow(beta1, t));
                double vHat = (amsgrad ? vMax : v) / (1 - Math.Pow(beta2, t));
                p -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }

            result[i] = p;
        }

        return result;
    }

    [Theory]
    [InlineData(0f, 0f, 0f, false)]
    [InlineData(0.9f, 0f, 0f, false)]
    [InlineData(0.9f, 0.3f, 0f, false)]
    [InlineData(0.9f, 0f, 0f, true)]
    [InlineData(0f, 0f, 0.1f, false)]
    [InlineData(0.8f, 0.2f, 0.1f, false)]
    [InlineData(0.9f, 0f, 0.05f, true)]
    public void SgdMatchesTorchOverThreeSteps(float momentum, float dampening, float weightDecay, bool nesterov)
    {
        const float lr = 0.1f;
        List<Parameter> parameters = MakeParameters();
        var sgd = new Sgd(parameters, lr, momentum, dampening, weightDecay, nesterov);
        float[] actual = RunSteps(sgd, parameters, 3);
        double[] expected = ReferenceSgd(3, lr, momentum, dampening, weightDecay, nesterov);
        TestSupport.AssertClose(expected, actual, Tol, $"SGD momentum {momentum} dampening {dampening} wd {weightDecay} nesterov {nesterov}");
        Assert.Equal(3, sgd.StepCount);
    }

    [Fact]
    public void SgdByHand()
    {
        // p = 1, g = 1 every step, lr = 0.1.
        Assert.Equal([0.9f, 0.8f, 0.7f], Trajectory(p => new Sgd(p, 0.1f)), new FloatTolerance(1e-6f));

        // Momentum 0.9: b = 1, 1.9, 2.71 (no dampening on the first step).
        Assert.Equal([0.9f, 0.71f, 0.439f], Trajectory(p => new Sgd(p, 0.1f, momentum: 0.9f)), new FloatTolerance(1e-6f));

        // Dampening 0.5: b = 1 (first step undamped), 0.9 + 0.5 = 1.4, 1.26 + 0.5 = 1.76.
        Assert.Equal([0.9f, 0.76f, 0.584f], Trajectory(p => new Sgd(p, 0.1f, momentum: 0.9f, dampening: 0.5f)), new FloatTolerance(1e-6f));

        // Nesterov: d = g + 0.9 b = 1.9, 2.71, 3.439.
        Assert.Equal([0.81f, 0.539f, 0.1951f], Trajectory(p => new Sgd(p, 0.1f, momentum: 0.9f, nesterov: true)), new FloatTolerance(1e-6f));

        // Weight decay 0.5: d = 1 + 0.5 p; p = 1 - 0.1 * 1.5 = 0.85, 0.85 - 0.1 * 1.425 = 0.7075.
        Assert.Equal([0.85f, 0.7075f], Trajectory(p => new Sgd(p, 0.1f, weightDecay: 0.5f), steps: 2), new FloatTolerance(1e-6f));
    }

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0f, true)]
    [InlineData(0.1f, false)]
    [InlineData(0.1f, true)]
    public void AdamMatchesTorchOverThreeSteps(float weightDecay, bool amsgrad)
    {
        const float lr = 0.1f, beta1 = 0.8f, beta2 = 0.6f, eps = 1e-3f;
        List<Parameter> parameters = MakeParameters();
        var adam = new Adam(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad);
        float[] actual = RunSteps(adam, parameters, 3);
        double[] expected = ReferenceAdam(3, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false);
        TestSupport.AssertClose(expected, actual, Tol, $"Adam wd {weightDecay} amsgrad {amsgrad}");

        // The variants differ from one another by far more than the tolerance.
        double[] other = ReferenceAdam(3, lr, beta1, beta2, eps, weightDecay, !amsgrad, decoupled: false);
        Assert.True(expected.Zip(other, (a, b) => Math.Abs(a - b)).Max() > 1e-3);
    }

    /// <summary>
    /// Adam and AdamW update each parameter in one pass (Adam.UpdateInOnePass); the result must be the bits of the
    /// operations PyTorch's step is written as, one TensorPrimitives call each over the whole parameter (each product
    /// rounded before its sum), with and without AMSGrad, on lengths around the vector width, with a NaN and an infinity
    /// in the gradient.
    /// </summary>
    [Theory]
    [InlineData(0f, false, false)]
    [InlineData(0.1f, false, false)]
    [InlineData(0.1f, true, false)]
    [InlineData(0f, false, true)]
    [InlineData(0.1f, true, true)]
    public void AdamInOnePassGivesTheBitsOfItsOperationsOneByOne(float weightDecay, bool decoupled, bool amsgrad)
    {
        const float lr = 0.01f, beta1 = 0.8f, beta2 = 0.6f, eps = 1e-3f;
        foreach (int length in new[] { 1, 7, 8, 9, 31, 1100 })
        {
            var parameter = new Parameter("w", length);
            var rng = new Random(length);
            float[] p = Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
            p.CopyTo(parameter.Value.AsSpan());
            Optimizer adam = decoupled ? new AdamW([parameter], lr, beta1, beta2, eps, weightDecay, amsgrad) : new Adam([parameter], lr, beta1, beta2, eps, weightDecay, amsgrad);
            float[] m = new float[length], v = new float[length], vMax = new float[length];
            for (int step = 1; step <= 3; step++)
            {
                float[] g = Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
                if (length > 5 && step == 3)
                {
                    g[2] = float.NaN;
                    g[4] = float.PositiveInfinity;
                }

                g.CopyTo(parameter.Grad.AsSpan());
                adam.Step();

                // The same step as one operation at a time over the whole parameter.
                float shrink = decoupled ? (float)(1.0 - (lr * weightDecay)) : 1f;
                float l2 = decoupled ? 0f : weightDecay;
                float negStepSize = (float)-(lr / (1 - Math.Pow(beta1, step)));
                float bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
                float[] t1 = new float[length], t2 = new float[length];
                if (shrink != 1)
                {
                    System.Numerics.Tensors.TensorPrimitives.Multiply(p, shrink, p);
                }

                if (l2 != 0)
                {
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p, l2, g, g);
                }

                System.Numerics.Tensors.TensorPrimitives.Subtract(g, m, t2);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(t2, (float)(1.0 - beta1), m, m);
                System.Numerics.Tensors.TensorPrimitives.Multiply(v, beta2, v);
                System.Numerics.Tensors.TensorPrimitives.Multiply(g, (float)(1.0 - beta2), t2);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(t2, g, v, v);
                float[] second = v;
                if (amsgrad)
                {
                    System.Numerics.Tensors.TensorPrimitives.Max(vMax, v, vMax);
                    second = vMax;
                }

                System.Numerics.Tensors.TensorPrimitives.Sqrt(second, t2);
                System.Numerics.Tensors.TensorPrimitives.Divide(t2, bc2Sqrt, t2);
                System.Numerics.Tensors.TensorPrimitives.Add(t2, eps, t2);
                System.Numerics.Tensors.TensorPrimitives.Multiply(m, negStepSize, t1);
                System.Numerics.Tensors.TensorPrimitives.Divide(t1, t2, t1);
                System.Numerics.Tensors.TensorPrimitives.Add(p, t1, p);
                float[] actual = parameter.Value.ToArray();
                for (int i = 0; i < length; i++)
                {
                    Assert.True(BitConverter.SingleToInt32Bits(p[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"length {length}, step {step}, element {i}: expected {p[i]:R}, got {actual[i]:R}");
                }
            }
        }
    }

    [Theory]
    [InlineData(0.1f, false)]
    [InlineData(0.1f, true)]
    [InlineData(0f, false)]
    public void AdamWMatchesTorchOverThreeSteps(float weightDecay, bool amsgrad)
    {
        const float lr = 0.1f, beta1 = 0.8f, beta2 = 0.6f, eps = 1e-3f;
        List<Parameter> parameters = MakeParameters();
        var adamW = new AdamW(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad);
        float[] actual = RunSteps(adamW, parameters, 3);
        double[] expected = ReferenceAdam(3, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: true);
        TestSupport.AssertClose(expected, actual, Tol, $"AdamW wd {weightDecay} amsgrad {amsgrad}");
        if (weightDecay != 0)
        {
            double[] coupled = ReferenceAdam(3, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false);
            Assert.True(expected.Zip(coupled, (a, b) => Math.Abs(a - b)).Max() > 1e-3);
        }
    }

    [Fact]
    public void AdamWithDefaultsMatchesTorch()
    {
        List<Parameter> parameters = MakeParameters();
        float[] actual = RunSteps(new Adam(parameters), parameters, 3);
        TestSupport.AssertClose(ReferenceAdam(3, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, false, false), actual, Tol, "Adam defaults");
        parameters = MakeParameters();
        actual = RunSteps(new AdamW(parameters), parameters, 3);
        TestSupport.AssertClose(ReferenceAdam(3, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, false, true), actual, Tol, "AdamW defaults");
    }

    [Fact]
    public void AdamByHand()
    {
        // A constant gradient makes the bias-corrected moments exactly g and g^2, so each step moves p by lr * g / (|g| + eps).
        float[] adam = Trajectory(p => new Adam(p, lr: 0.1f), gradient: 0.5f);
        Assert.Equal([0.9f, 0.8f, 0.7f], adam, new FloatTolerance(1e-6f));

        // AdamW first shrinks p by 1 - lr * wd = 0.99: 0.99 - 0.1 = 0.89, 0.8811 - 0.1 = 0.7811, 0.773289 - 0.1 = 0.673289.
        float[] adamW = Trajectory(p => new AdamW(p, lr: 0.1f, weightDecay: 0.1f), gradient: 0.5f);
        Assert.Equal([0.89f, 0.7811f, 0.673289f], adamW, new FloatTolerance(1e-6f));

        // AMSGrad, beta2 = 0.5, g = 1 then 0.1: v = 0.5 then 0.255, so v-max stays 0.5; m = 0.1 then 0.1.
        // Step 2: m-hat = 0.1 / 0.19 = 0.526316; v-hat = 0.255 / 0.75 = 0.34 but v-max-hat = 0.5 / 0.75 = 0.666667.
        Assert.Equal(0.8355397f, TwoStepAdam(amsgrad: true), 1e-6f);   // 0.9 - 0.1 * 0.526316 / sqrt(0.666667)
        Assert.Equal(0.8097375f, TwoStepAdam(amsgrad: false), 1e-6f);  // 0.9 - 0.1 * 0.526316 / sqrt(0.34)
    }

    private static float TwoStepAdam(bool amsgrad)
    {
        var p = new Parameter("w", 1);
        p.Value[0] = 1;
        var adam = new Adam([p], lr: 0.1f, beta2: 0.5f, amsgrad: amsgrad);
        p.Grad[0] = 1;
        adam.Step();
        Assert.Equal(0.9f, p.Value[0], 1e-6f);
        p.Grad[0] = 0.1f;
        adam.Step();
        return p.Value[0];
    }

    [Fact]
    public void LearningRateCanChangeBetweenSteps()
    {
        var p = new Parameter("w", 1);
        var sgd = new Sgd([p], 0.1f);
        p.Grad[0] = 1;
        sgd.Step();
        sgd.LearningRate = 0.5f;
        sgd.Step();
        Assert.Equal(-0.6f, p.Value[0], 1e-6f);
        Assert.Equal(1f, p.Grad[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.LearningRate = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.LearningRate = float.NaN);
    }

    [Fact]
    public void BadHyperparametersThrow()
    {
        Parameter[] p = [new Parameter("w", 2)];
        ArgumentException e = Assert.Throws<ArgumentException>(() => new Sgd(p, 0.1f, nesterov: true));
        Assert.StartsWith("Nesterov momentum requires a momentum above zero and zero dampening, got momentum 0 and dampening 0", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new Sgd(p, 0.1f, momentum: 0.9f, dampening: 0.1f, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(p, -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(p, 0.1f, momentum: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(p, 0.1f, weightDecay: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, beta1: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, beta2: -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(p, eps: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(p, weightDecay: float.NaN));
        e = Assert.Throws<ArgumentException>(() => new Adam(Array.Empty<Parameter>()));
        Assert.StartsWith("The optimizer got an empty parameter list", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new Adam([p[0], p[0]]));
        Assert.StartsWith("Parameter w appears more than once", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new Adam([p[0], null!]));
        Assert.Throws<ArgumentNullException>(() => new Adam((IModel)null!));
    }

    [Fact]
    public void OptimizesEveryParameterOfAModel()
    {
        var model = new Lstm3x1(seed: 7);
        IReadOnlyList<Parameter> ps = model.Parameters();
        float[][] before = ps.Select(p => p.Value.ToArray()).ToArray();
        for (int k = 0; k < ps.Count; k++)
        {
            ps[k].Grad.AsSpan().Fill(k + 1);
        }

        var sgd = new Sgd(model, 0.01f);
        Assert.Equal(ps, sgd.Parameters);
        sgd.Step();
        for (int k = 0; k < ps.Count; k++)
        {
            double[] expected = before[k].Select(v => v - (0.01 * (k + 1))).ToArray();
            TestSupport.AssertClose(expected, ps[k].Value.AsSpan(), 1e-6, ps[k].Name);
        }

        sgd.ZeroGrad();
        Assert.All(ps, p => Assert.True(p.Grad.ToArray().All(g => g == 0)));
    }

    [Fact]
    public void StepsAllocateNothing()
    {
        List<Parameter> parameters = MakeParameters();
        SetGradients(parameters, 1);
        Optimizer[] optimizers =
        [
            new Sgd(parameters, 1e-3f),
            new Sgd(parameters, 1e-3f, momentum: 0.9f, dampening: 0.1f, weightDecay: 0.01f),
            new Sgd(parameters, 1e-3f, momentum: 0.9f, weightDecay: 0.01f, nesterov: true),
            new Adam(parameters, weightDecay: 0.01f),
            new Adam(parameters, amsgrad: true),
            new AdamW(parameters, amsgrad: true),
        ];
        foreach (Optimizer o in optimizers)
        {
            o.Step();
            o.Step();
        }

        Gradients.ClipGradNorm(parameters, 1f);
        // The quietest of a few runs: the runtime allocates on a thread now and then (a method's tier-up), more so while
        // the rest of the suite runs; an allocation of the steps themselves shows in every run.
        long allocated = TestSupport.QuietestAllocation(() =>
        {
            for (int i = 0; i < 50; i++)
            {
                foreach (Optimizer o in optimizers)
                {
                    o.Step();
                }

                Gradients.ClipGradNorm(parameters, 1f);
                Gradients.ClipGradNorm(parameters, 1f, float.PositiveInfinity);
                optimizers[0].ZeroGrad();
            }
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void ClipGradNormBelowTheMaximumChangesNothing()
    {
        (Parameter a, Parameter b) = TwoGradients([3, 4], [12]);
        float total = Gradients.ClipGradNorm([a, b], 26f);
        Assert.Equal(13f, total, 1e-6f);
        Assert.Equal([3f, 4f], a.Grad.ToArray());
        Assert.Equal([12f], b.Grad.ToArray());

        // At exactly the maximum, coef = 13 / (13 + 1e-6) < 1 and PyTorch scales (by a hair).
        Assert.Equal(13f, Gradients.ClipGradNorm([a, b], 13f), 1e-6f);
        Assert.Equal(12f, b.Grad[0], 1e-4f);
    }

    [Fact]
    public void ClipGradNormAboveTheMaximumScalesToIt()
    {
        (Parameter a, Parameter b) = TwoGradients([3, 4], [12]);
        float total = Gradients.ClipGradNorm([a, b], 6.5f);
        Assert.Equal(13f, total, 1e-6f);
        float coef = 6.5f / (13f + 1e-6f);
        Assert.Equal([3 * coef, 4 * coef], a.Grad.ToArray());
        Assert.Equal([12 * coef], b.Grad.ToArray());
        Assert.Equal([1.5f, 2f], a.Grad.ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(6.5f, Gradients.ClipGradNorm([a, b], 100f), 1e-5f);
    }

    [Fact]
    public void ClipGradNormInfinityAndOtherOrders()
    {
        (Parameter a, Parameter b) = TwoGradients([-5, 3], [2]);
        Assert.Equal(5f, Gradients.ClipGradNorm([a, b], 1f, float.PositiveInfinity));
        float coef = 1f / (5f + 1e-6f);
        Assert.Equal([-5 * coef, 3 * coef], a.Grad.ToArray());
        Assert.Equal(1f, Math.Abs(a.Grad[0]), 1e-6f);

        (a, b) = TwoGradients([-5, 3], [2]);
        Assert.Equal(10f, Gradients.ClipGradNorm([a, b], 100f, 1f));
        Assert.Equal((float)Math.Pow(125 + 27 + 8, 1.0 / 3), Gradients.ClipGradNorm([a, b], 100f, 3f), 1e-6f);
        Assert.Equal(0f, Gradients.ClipGradNorm(Array.Empty<Parameter>(), 1f));

        // Over a long gradient, against a double sum of squares.
        List<Parameter> parameters = MakeParameters();
        SetGradients(parameters, 2);
        double sumSq = parameters.SelectMany(p => p.Grad.ToArray()).Sum(g => (double)g * g);
        Assert.Equal(Math.Sqrt(sumSq), Gradients.ClipGradNorm(parameters, 1f), 1e-4);
        Assert.Equal(1.0, Math.Sqrt(parameters.SelectMany(p => p.Grad.ToArray()).Sum(g => (double)g * g)), 1e-5);
    }

    [Fact]
    public void ClipGradNormOfAModelAndNonfiniteNorms()
    {
        var model = new Lstm3x1(seed: 1);
        foreach (Parameter p in model.Parameters())
        {
            p.Grad.AsSpan().Fill(2);
        }

        int count = model.Parameters().Sum(p => p.Grad.Length);
        Assert.Equal(2 * Math.Sqrt(count), Gradients.ClipGradNorm(model, 1f), 1e-5);

        (Parameter a, Parameter b) = TwoGradients([float.NaN, 1], [2]);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Gradients.ClipGradNorm([a, b], 1f, errorIfNonfinite: true));
        Assert.StartsWith("The total norm of order 2 of the gradients is non-finite", e.Message, StringComparison.Ordinal);
        Assert.Equal(2f, b.Grad[0]);
        Assert.True(float.IsNaN(Gradients.ClipGradNorm([a, b], 1f)));
        Assert.True(float.IsNaN(b.Grad[0]));
        Assert.True(float.IsNaN(Gradients.ClipGradNorm([a], 1f, float.PositiveInfinity)));

        (a, _) = TwoGradients([float.PositiveInfinity, 1], [2]);
        Assert.Equal(float.PositiveInfinity, Gradients.ClipGradNorm([a], 1f));
        Assert.Equal(0f, a.Grad[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gradients.ClipGradNorm([a], -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gradients.ClipGradNorm([a], 1f, 0f));
    }

    private static (Parameter A, Parameter B) TwoGradients(float[] a, float[] b)
    {
        var pa = new Parameter("a", a.Length);
        a.CopyTo(pa.Grad.AsSpan());
        var pb = new Parameter("b", b.Length);
        b.CopyTo(pb.Grad.AsSpan());
        return (pa, pb);
    }

    /// <summary>The value of a one-element parameter starting at 1 after each step with a constant gradient.</summary>
    private static float[] Trajectory(Func<Parameter[], Optimizer> create, float gradient = 1f, int steps = 3)
    {
        var p = new Parameter("w", 1);
        p.Value[0] = 1;
        Optimizer optimizer = create([p]);
        var values = new float[steps];
        for (int t = 0; t < steps; t++)
        {
            p.Grad[0] = gradient;
            optimizer.Step();
            values[t] = p.Value[0];
        }

        return values;
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
