using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Deepbox;

/// <summary>
/// Adam, exactly <c>torch.optim.Adam</c>, with L2 weight decay added to the gradient and optional AMSGrad. For each
/// parameter <c>p</c> with gradient <c>g</c>, at step <c>t</c> (1 for the first), the moments <c>m</c> and <c>v</c>
/// starting at zero:
/// <code>
/// g = g + weightDecay * p                                     (when weightDecay != 0; the stored gradient is not changed)
/// m = m + (1 - beta1) * (g - m)                               (PyTorch's lerp)
/// v = beta2 * v + (1 - beta2) * g * g
/// vMax = max(vMax, v)                                         (AMSGrad only; the denominator then uses vMax)
/// denom = sqrt(v) / sqrt(1 - beta2^t) + eps
/// p = p - (lr / (1 - beta1^t)) * m / denom
/// </code>
/// The bias corrections <c>1 - beta^t</c> and the step size are computed in double. The moment buffers are allocated
/// once, in the constructor.
/// </summary>
public class Adam : Optimizer
{
    private float _beta1;

    private readonly bool _decoupled;
    private readonly float[][] _exp;
    private readonly float[][] _expSq;
    private readonly float[][]? _maxExpSq;

    /// <summary>Creates Adam over every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose parameters are optimized.</param>
    /// <param name="lr">The learning rate, zero or more.</param>
    /// <param name="beta1">The decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">The decay of the second moment, in [0, 1).</param>
    /// <param name="eps">The term added to the denominator, zero or more.</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient, <c>g + weightDecay * p</c>; zero or more.</param>
    /// <param name="amsgrad">Whether to divide by the running maximum of the second moment (AMSGrad).</param>
    /// <exception cref="ArgumentException">A hyperparameter out of range, or a model without parameters.</exception>
    public Adam(IModel model, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0, bool amsgrad = false)
        : this(ParametersOf(model), lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false)
    {
    }

    /// <summary>Creates Adam over the given parameters.</summary>
    /// <param name="parameters">The parameters, each at most once.</param>
    /// <param name="lr">The learning rate, zero or more.</param>
    /// <param name="beta1">The decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">The decay of the second moment, in [0, 1).</param>
    /// <param name="eps">The term added to the denominator, zero or more.</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient, <c>g + weightDecay * p</c>; zero or more.</param>
    /// <param name="amsgrad">Whether to divide by the running maximum of the second moment (AMSGrad).</param>
    /// <exception cref="ArgumentException">A hyperparameter out of range, or an empty or repeating parameter list.</exception>
    public Adam(IEnumerable<Parameter> parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0, bool amsgrad = false)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: false)
    {
    }

    /// <summary>Creates Adam with L2 (<paramref name="decoupled"/> false) or decoupled (AdamW) weight decay.</summary>
    private protected Adam(IEnumerable<Parameter> parameters, float lr, float beta1, float beta2, float eps, float weightDecay, bool amsgrad, bool decoupled)
        : base(parameters, lr)
    {
        CheckBeta(beta1, nameof(beta1));
        CheckBeta(beta2, nameof(beta2));
        CheckNonNegative(eps, nameof(eps));
        CheckNonNegative(weightDecay, nameof(weightDecay));
        _beta1 = beta1;
        Beta2 = beta2;
        Epsilon = eps;
        WeightDecay = weightDecay;
        Amsgrad = amsgrad;
        _decoupled = decoupled;
        _exp = NewStateBuffers();
        _expSq = NewStateBuffers();
        _maxExpSq = amsgrad ? NewStateBuffers() : null;
    }

    /// <summary>
    /// The decay of the first moment: <c>m = m + (1 - beta1) * (g - m)</c>. It may be changed between steps (as
    /// <see cref="OneCycleLR"/> cycles it); the bias correction uses the current value, <c>1 - beta1^t</c>, as PyTorch's does.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not in [0, 1).</exception>
    public float Beta1
    {
        get => _beta1;
        set
        {
            CheckBeta(value, "beta1");
            _beta1 = value;
        }
    }

    /// <summary>The decay of the second moment: <c>v = beta2 * v + (1 - beta2) * g * g</c>.</summary>
    public float Beta2 { get; }

    /// <summary>The term added to the denominator: <c>denom = sqrt(v) / sqrt(1 - beta2^t) + eps</c>.</summary>
    public float Epsilon { get; }

    /// <summary>
    /// The weight decay: for <see cref="Adam"/> an L2 penalty added to the gradient (<c>g + weightDecay * p</c>), for
    /// <see cref="AdamW"/> a decoupled shrink of the parameter (<c>p = p * (1 - lr * weightDecay)</c>).
    /// </summary>
    public float WeightDecay { get; }

    /// <summary>Whether the denominator uses the running maximum of the second moment (AMSGrad).</summary>
    public bool Amsgrad { get; }

    /// <inheritdoc/>
    protected sealed override void Update(long step)
    {
        double lr = LearningRate;
        double biasCorrection1 = 1 - Math.Pow(Beta1, step);
        double biasCorrection2 = 1 - Math.Pow(Beta2, step);
        float negStepSize = (float)-(lr / biasCorrection1);
        float biasCorrection2Sqrt = (float)Math.Sqrt(biasCorrection2);
        float beta2 = Beta2;
        float oneMinusBeta1 = (float)(1.0 - Beta1);
        float oneMinusBeta2 = (float)(1.0 - beta2);
        float eps = Epsilon;
        float l2 = _decoupled ? 0 : WeightDecay;
        float shrink = _decoupled ? (float)(1.0 - (lr * WeightDecay)) : 1;
        ReadOnlySpan<Parameter> parameters = ParameterSpan;
        for (int i = 0; i < parameters.Length; i++)
        {
            UpdateInOnePass(
                parameters[i].Value.AsSpan(), parameters[i].Grad.AsSpan(), _exp[i], _expSq[i], _maxExpSq is null ? default : _maxExpSq[i],
                shrink, l2, oneMinusBeta1, beta2, oneMinusBeta2, biasCorrection2Sqrt, eps, negStepSize);
        }
    }

    /// <summary>
    /// One parameter's update, every element in one pass over its value, gradient and moments (PyTorch's single-tensor
    /// Adam, in its order of operations, each product rounded before its sum):
    /// <code>
    /// p = p * shrink                                   (AdamW's decoupled decay; shrink = 1 - lr * weight_decay)
    /// g = p * l2 + g                                   (Adam's L2 decay)
    /// m = (g - m) * (1 - beta1) + m                    (m.lerp_(g, 1 - beta1))
    /// v = ((g * (1 - beta2)) * g) + v * beta2          (v.mul_(beta2).addcmul_(g, g, value=1 - beta2))
    /// vMax = max(vMax, v)                              (AMSGrad; the denominator then takes vMax)
    /// p = p + (m * -step_size) / (sqrt(v) / sqrt(bias_correction2) + eps)
    /// </code>
    /// One pass rather than a dozen <c>TensorPrimitives</c> calls over each block of values, which read and wrote each block
    /// a dozen times: in a profile of W3's training step on two threads (AMD EPYC family 26 model 2, Zen 5, FMA peak
    /// 215-229 GFLOP/s) the optimizer took 37 µs of the caller's 1.3 ms a step; one pass made W3 6-8% faster (alternated).
    /// The bits are those of the same operations one <c>TensorPrimitives</c> call each (OptimizerTests).
    /// </summary>
    private static void UpdateInOnePass(
        Span<float> value, ReadOnlySpan<float> grad, Span<float> exp, Span<float> expSq, Span<float> maxExpSq, float shrink, float l2,
        float oneMinusBeta1, float beta2, float oneMinusBeta2, float biasCorrection2Sqrt, float eps, float negStepSize)
    {
        int length = value.Length;
        bool amsgrad = !maxExpSq.IsEmpty;
        if (grad.Length != length || exp.Length != length || expSq.Length != length || (amsgrad && maxExpSq.Length != length))
        {
            throw new ArgumentException($"Expected a gradient and moments of {length} values, got {grad.Length}, {exp.Length}, {expSq.Length} and {maxExpSq.Length}.", nameof(grad));
        }

        ref float p0 = ref MemoryMarshal.GetReference(value);
        ref float g0 = ref MemoryMarshal.GetReference(grad);
        ref float m0 = ref MemoryMarshal.GetReference(exp);
        ref float v0 = ref MemoryMarshal.GetReference(expSq);
        ref float x0 = ref MemoryMarshal.GetReference(maxExpSq);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vShrink = Vector256.Create(shrink), vL2 = Vector256.Create(l2), vB1 = Vector256.Create(oneMinusBeta1);
            Vector256<float> vBeta2 = Vector256.Create(beta2), vB2 = Vector256.Create(oneMinusBeta2), vBc2 = Vector256.Create(biasCorrection2Sqrt);
            Vector256<float> vEps = Vector256.Create(eps), vStep = Vector256.Create(negStepSize);
            for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                Vector256<float> p = Vector256.LoadUnsafe(ref p0, (nuint)i);
                Vector256<float> g = Vector256.LoadUnsafe(ref g0, (nuint)i);
                if (shrink != 1)
                {
                    p *= vShrink;
                }

                if (l2 != 0)
                {
                    g = (p * vL2) + g;
                }

                Vector256<float> m = Vector256.LoadUnsafe(ref m0, (nuint)i);
                m = ((g - m) * vB1) + m;
                Vector256<float> v = Vector256.LoadUnsafe(ref v0, (nuint)i) * vBeta2;
                v = ((g * vB2) * g) + v;
                Vector256<float> second = v;
                if (amsgrad)
                {
                    second = Vector256.Max(Vector256.LoadUnsafe(ref x0, (nuint)i), v); // NaN-propagating, as TensorPrimitives.Max
                    second.StoreUnsafe(ref x0, (nuint)i);
                }

                Vector256<float> denom = (Vector256.Sqrt(second) / vBc2) + vEps;
                p += (m * vStep) / denom;
                m.StoreUnsafe(ref m0, (nuint)i);
                v.StoreUnsafe(ref v0, (nuint)i);
                p.StoreUnsafe(ref p0, (nuint)i);
            }
        }

        for (; i < length; i++)
        {
            float p = Unsafe.Add(ref p0, i);
            float g = Unsafe.Add(ref g0, i);
            if (shrink != 1)
            {
                p *= shrink;
            }

            if (l2 != 0)
            {
                g = (p * l2) + g;
            }

            float m = ((g - Unsafe.Add(ref m0, i)) * oneMinusBeta1) + Unsafe.Add(ref m0, i);
            float v = Unsafe.Add(ref v0, i) * beta2;
            v = ((g * oneMinusBeta2) * g) + v;
            float second = v;
            if (amsgrad)
            {
                second = MathF.Max(Unsafe.Add(ref x0, i), v);
                Unsafe.Add(ref x0, i) = second;
            }

            p += (m * negStepSize) / ((MathF.Sqrt(second) / biasCorrection2Sqrt) + eps);
            Unsafe.Add(ref m0, i) = m;
            Unsafe.Add(ref v0, i) = v;
            Unsafe.Add(ref p0, i) = p;
        }
    }

    private static void CheckBeta(float beta, string name)
    {
        if (!(beta >= 0 && beta < 1))
        {
            throw new ArgumentOutOfRangeException(name, beta, $"Expected {name} in [0, 1).");
        }
    }
}
