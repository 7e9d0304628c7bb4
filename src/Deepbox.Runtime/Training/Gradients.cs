using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace Deepbox;

/// <summary>Operations on the gradients of a set of parameters, as <c>torch.nn.utils</c>.</summary>
public static class Gradients
{
    /// <summary>
    /// Rescales the gradients of every parameter of <paramref name="model"/> so that their joint norm is at most
    /// <paramref name="maxNorm"/>, exactly <c>torch.nn.utils.clip_grad_norm_</c>; see
    /// <see cref="ClipGradNorm(IEnumerable{Parameter}, float, float, bool)"/>.
    /// </summary>
    /// <param name="model">The model whose gradients are clipped.</param>
    /// <param name="maxNorm">The largest norm allowed, zero or more.</param>
    /// <param name="normType">The order p of the norm: 2 (the default), 1, any p &gt; 0, or <see cref="float.PositiveInfinity"/>.</param>
    /// <param name="errorIfNonfinite">Whether a NaN or infinite total norm throws instead of scaling the gradients by it.</param>
    /// <returns>The total norm of the gradients before clipping.</returns>
    public static float ClipGradNorm(IModel model, float maxNorm, float normType = 2, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ClipGradNorm(model.Parameters(), maxNorm, normType, errorIfNonfinite);
    }

    /// <summary>
    /// Rescales the gradients so that their joint norm is at most <paramref name="maxNorm"/>, exactly
    /// <c>torch.nn.utils.clip_grad_norm_</c>:
    /// <code>
    /// total = (sum over every gradient element x of |x|^p)^(1/p)     (p = inf: max |x|)
    /// coef  = maxNorm / (total + 1e-6)                              (in float32, as PyTorch)
    /// g     = g * min(coef, 1)                                      (for every gradient)
    /// </code>
    /// The sums are accumulated in double. The gradients change only when <c>coef &lt; 1</c> (multiplying by
    /// <c>clip_coef_clamped = 1</c> changes nothing), which is when <c>total &gt; maxNorm</c> up to the 1e-6. A NaN or
    /// infinite total scales the gradients to NaN or zero, as PyTorch does, unless <paramref name="errorIfNonfinite"/>.
    /// A list that is not an <see cref="IReadOnlyList{T}"/> is copied once; a list is not, and nothing is allocated.
    /// </summary>
    /// <param name="parameters">The parameters whose gradients are clipped.</param>
    /// <param name="maxNorm">The largest norm allowed, zero or more.</param>
    /// <param name="normType">The order p of the norm: 2 (the default), 1, any p &gt; 0, or <see cref="float.PositiveInfinity"/>.</param>
    /// <param name="errorIfNonfinite">Whether a NaN or infinite total norm throws instead of scaling the gradients by it.</param>
    /// <returns>The total norm of the gradients before clipping (0 for no parameters).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN, or <paramref name="normType"/> is not above zero.</exception>
    /// <exception cref="ArgumentException">The list holds null.</exception>
    /// <exception cref="InvalidOperationException">The total norm is NaN or infinite and <paramref name="errorIfNonfinite"/> is set; nothing was changed.</exception>
    public static float ClipGradNorm(IEnumerable<Parameter> parameters, float maxNorm, float normType = 2, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Expected a maximum norm of zero or more.");
        }

        if (!(normType > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(normType), normType, "Expected a norm order above zero (2, 1, any p > 0, or infinity).");
        }

        IReadOnlyList<Parameter> list = parameters as IReadOnlyList<Parameter> ?? [.. parameters];
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is null)
            {
                throw new ArgumentException($"Parameter {i} is null.", nameof(parameters));
            }
        }

        float total = TotalNorm(list, normType);
        if (errorIfNonfinite && !float.IsFinite(total))
        {
            throw new InvalidOperationException(
                $"The total norm of order {normType} of the gradients is non-finite ({total}), so it cannot be clipped. " +
                "Pass errorIfNonfinite: false to scale the gradients by it anyway.");
        }

        float coef = maxNorm / (total + 1e-6f);
        if (!(coef >= 1f))
        {
            for (int i = 0; i < list.Count; i++)
            {
                Span<float> g = list[i].Grad.AsSpan();
                TensorPrimitives.Multiply(g, coef, g);
            }
        }

        return total;
    }

    private static float TotalNorm(IReadOnlyList<Parameter> list, float normType)
    {
        if (float.IsPositiveInfinity(normType))
        {
            float max = 0;
            for (int i = 0; i < list.Count; i++)
            {
                ReadOnlySpan<float> g = list[i].Grad.AsSpan();
                if (g.Length > 0)
                {
                    // MaxMagnitude propagates NaN, as torch.max does.
                    float m = Math.Abs(TensorPrimitives.MaxMagnitude(g));
                    max = float.IsNaN(m) || m > max ? m : max;
                    if (float.IsNaN(max))
                    {
                        return max;
                    }
                }
            }

            return max;
        }

        double sum = 0;
        for (int i = 0; i < list.Count; i++)
        {
            ReadOnlySpan<float> g = list[i].Grad.AsSpan();
            if (normType == 2)
            {
                sum += DoubleSums.SumOfSquares(g);
            }
            else if (normType == 1)
            {
                sum += DoubleSums.SumOfMagnitudes(g);
            }
            else
            {
                foreach (float x in g)
                {
                    sum += Math.Pow(Math.Abs((double)x), normType);
                }
            }
        }

        return normType switch
        {
            2 => (float)Math.Sqrt(sum),
            1 => (float)sum,
            _ => (float)Math.Pow(sum, 1.0 / normType),
        };
    }
}
