using System;
using System.Collections.Generic;

namespace Deepbox;

/// <summary>
/// AdamW, exactly <c>torch.optim.AdamW</c>: <see cref="Adam"/> with decoupled weight decay. Each step first shrinks the
/// parameter, <c>p = p * (1 - lr * weightDecay)</c> (the factor computed in double), then applies the Adam update
/// without adding any penalty to the gradient:
/// <code>
/// p = p * (1 - lr * weightDecay)
/// m = m + (1 - beta1) * (g - m)
/// v = beta2 * v + (1 - beta2) * g * g
/// vMax = max(vMax, v)                                         (AMSGrad only; the denominator then uses vMax)
/// p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// </code>
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW over every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose parameters are optimized.</param>
    /// <param name="lr">The learning rate, zero or more.</param>
    /// <param name="beta1">The decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">The decay of the second moment, in [0, 1).</param>
    /// <param name="eps">The term added to the denominator, zero or more.</param>
    /// <param name="weightDecay">The decoupled decay, <c>p = p * (1 - lr * weightDecay)</c> each step; zero or more.</param>
    /// <param name="amsgrad">Whether to divide by the running maximum of the second moment (AMSGrad).</param>
    /// <exception cref="ArgumentException">A hyperparameter out of range, or a model without parameters.</exception>
    public AdamW(IModel model, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 1e-2f, bool amsgrad = false)
        : base(ParametersOf(model), lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: true)
    {
    }

    /// <summary>Creates AdamW over the given parameters.</summary>
    /// <param name="parameters">The parameters, each at most once.</param>
    /// <param name="lr">The learning rate, zero or more.</param>
    /// <param name="beta1">The decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">The decay of the second moment, in [0, 1).</param>
    /// <param name="eps">The term added to the denominator, zero or more.</param>
    /// <param name="weightDecay">The decoupled decay, <c>p = p * (1 - lr * weightDecay)</c> each step; zero or more.</param>
    /// <param name="amsgrad">Whether to divide by the running maximum of the second moment (AMSGrad).</param>
    /// <exception cref="ArgumentException">A hyperparameter out of range, or an empty or repeating parameter list.</exception>
    public AdamW(IEnumerable<Parameter> parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 1e-2f, bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled: true)
    {
    }
}
