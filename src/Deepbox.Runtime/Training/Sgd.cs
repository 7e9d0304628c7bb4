using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace Deepbox;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay, exactly
/// <c>torch.optim.SGD</c>. For each parameter <c>p</c> with gradient <c>g</c>, step <c>t</c>:
/// <code>
/// d = g + weightDecay * p                                   (when weightDecay != 0)
/// b = d                                                     (t = 1: no dampening on the first step)
/// b = momentum * b + (1 - dampening) * d                    (t &gt; 1)          } when momentum != 0
/// d = nesterov ? d + momentum * b : b                                        }
/// p = p - lr * d
/// </code>
/// The gradient itself is not changed; the momentum buffer <c>b</c> is allocated once, in the constructor.
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly float[][]? _momentumBuffers;
    private float _momentum;

    /// <summary>Creates SGD over every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose parameters are optimized.</param>
    /// <param name="lr">The learning rate, zero or more.</param>
    /// <param name="momentum">The momentum factor, zero (none) or more.</param>
    /// <param name="dampening">The dampening of the momentum from the second step on: <c>b = momentum * b + (1 - dampening) * d</c>.</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient, <c>d = g + weightDecay * p</c>; zero or more.</param>
    /// <param name="nesterov">Nesterov momentum, <c>d = d + momentum * b</c>; needs momentum &gt; 0 and zero dampening.</param>
    /// <exception cref="ArgumentException">Nesterov without momentum or with dampening, a negative hyperparameter, or a model without parameters.</exception>
    public Sgd(IModel model, float lr, float momentum = 0, float dampening = 0, float weightDecay = 0, bool nesterov = false)
        : this(ParametersOf(model), lr, momentum, dampening, weightDecay, nesterov)
    {
    }

    /// <summary>Creates SGD over the given parameters.</summary>
    /// <param name="parameters">The parameters, each at most once.</param>
    /// <param name="lr">The learning rate, zero or more.</param>
    /// <param name="momentum">The momentum factor, zero (none) or more.</param>
    /// <param name="dampening">The dampening of the momentum from the second step on: <c>b = momentum * b + (1 - dampening) * d</c>.</param>
    /// <param name="weightDecay">The L2 penalty added to the gradient, <c>d = g + weightDecay * p</c>; zero or more.</param>
    /// <param name="nesterov">Nesterov momentum, <c>d = d + momentum * b</c>; needs momentum &gt; 0 and zero dampening.</param>
    /// <exception cref="ArgumentException">Nesterov without momentum or with dampening, a negative hyperparameter, or an empty or repeating parameter list.</exception>
    public Sgd(IEnumerable<Parameter> parameters, float lr, float momentum = 0, float dampening = 0, float weightDecay = 0, bool nesterov = false)
        : base(parameters, lr)
    {
        CheckNonNegative(momentum, nameof(momentum));
        CheckNonNegative(weightDecay, nameof(weightDecay));
        if (float.IsNaN(dampening))
        {
            throw new ArgumentOutOfRangeException(nameof(dampening), dampening, "Expected a dampening that is a number.");
        }

        if (nesterov && (momentum <= 0 || dampening != 0))
        {
            throw new ArgumentException(
                $"Nesterov momentum requires a momentum above zero and zero dampening, got momentum {momentum} and dampening {dampening}.",
                nameof(nesterov));
        }

        _momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        _momentumBuffers = momentum != 0 ? NewStateBuffers() : null;
    }

    /// <summary>
    /// The momentum factor (0: plain SGD, no buffer). It may be changed between steps (as <see cref="OneCycleLR"/>
    /// cycles it) when the optimizer was created with momentum, so that it has a momentum buffer.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or NaN, or zero with Nesterov momentum.</exception>
    /// <exception cref="InvalidOperationException">The optimizer was created without momentum (it has no buffer).</exception>
    public float Momentum
    {
        get => _momentum;
        set
        {
            CheckNonNegative(value, "momentum");
            if (_momentumBuffers is null && value != 0)
            {
                throw new InvalidOperationException("This SGD was created with momentum 0 and has no momentum buffer: create it with momentum above zero to change the momentum later.");
            }

            if (Nesterov && value == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Nesterov momentum requires a momentum above zero.");
            }

            _momentum = value;
        }
    }

    /// <summary>The dampening: from the second step on, <c>b = momentum * b + (1 - dampening) * d</c>.</summary>
    public float Dampening { get; }

    /// <summary>The L2 penalty: <c>d = g + weightDecay * p</c>.</summary>
    public float WeightDecay { get; }

    /// <summary>Whether the step uses Nesterov momentum, <c>d + momentum * b</c>, instead of <c>b</c>.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void Update(long step)
    {
        float lr = LearningRate;
        float momentum = Momentum;
        float weightDecay = WeightDecay;
        float keep = (float)(1.0 - Dampening);
        bool first = step == 1;
        Span<float> scratch = stackalloc float[BlockSize];
        ReadOnlySpan<Parameter> parameters = ParameterSpan;
        for (int i = 0; i < parameters.Length; i++)
        {
            Span<float> value = parameters[i].Value.AsSpan();
            ReadOnlySpan<float> grad = parameters[i].Grad.AsSpan();
            Span<float> buffer = _momentumBuffers is null ? default : _momentumBuffers[i];
            for (int start = 0; start < value.Length; start += BlockSize)
            {
                int n = Math.Min(BlockSize, value.Length - start);
                Span<float> p = value.Slice(start, n);
                Span<float> tmp = scratch[..n];
                scoped ReadOnlySpan<float> d = grad.Slice(start, n);
                if (weightDecay != 0)
                {
                    TensorPrimitives.MultiplyAdd(p, weightDecay, d, tmp);
                    d = tmp;
                }

                if (momentum != 0)
                {
                    Span<float> b = buffer.Slice(start, n);
                    if (first)
                    {
                        d.CopyTo(b);
                    }
                    else
                    {
                        TensorPrimitives.Multiply(b, momentum, b);
                        TensorPrimitives.MultiplyAdd(d, keep, b, b);
                    }

                    if (Nesterov)
                    {
                        TensorPrimitives.MultiplyAdd(b, momentum, d, tmp);
                        d = tmp;
                    }
                    else
                    {
                        d = b;
                    }
                }

                TensorPrimitives.MultiplyAdd(d, -lr, p, p);
            }
        }
    }
}
