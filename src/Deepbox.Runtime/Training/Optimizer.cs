using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace Deepbox;

/// <summary>
/// Updates a set of parameters from their gradients, as <c>torch.optim.Optimizer</c>: call <see cref="ZeroGrad"/>,
/// run the forward and backward passes (which add into every <see cref="Parameter.Grad"/>), then <see cref="Step"/>.
/// </summary>
/// <remarks>
/// <para>
/// The parameter list is fixed at construction, in the order given (for a model, <see cref="IModel.Parameters"/>).
/// Per-parameter state (momentum buffers, moment estimates) is allocated once in the constructor, so
/// <see cref="Step"/> allocates nothing. Every parameter has a gradient tensor, so, unlike PyTorch, where a
/// parameter whose <c>grad</c> is <c>None</c> is skipped, every parameter is updated on every step (a zero gradient
/// still moves a parameter through momentum or weight decay, as a zero <c>grad</c> tensor does in PyTorch).
/// </para>
/// <para>Scalars derived from the hyperparameters (bias corrections, decay factors) are computed in double, as
/// Python does, and applied in float32, as PyTorch's CPU kernels do.</para>
/// </remarks>
public abstract class Optimizer
{
    /// <summary>The width of the blocks an update works through, so the temporaries of a block stay in L1.</summary>
    private protected const int BlockSize = 512;

    private readonly Parameter[] _parameters;
    private float _learningRate;

    /// <summary>Creates an optimizer of every parameter of <paramref name="model"/>.</summary>
    /// <param name="model">The model whose <see cref="IModel.Parameters"/> are optimized.</param>
    /// <param name="learningRate">The learning rate, zero or more.</param>
    /// <exception cref="ArgumentException">The model has no parameters.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative or NaN.</exception>
    protected Optimizer(IModel model, float learningRate)
        : this(ParametersOf(model), learningRate)
    {
    }

    /// <summary>Creates an optimizer of the given parameters.</summary>
    /// <param name="parameters">The parameters, each at most once.</param>
    /// <param name="learningRate">The learning rate, zero or more.</param>
    /// <exception cref="ArgumentException">The list is empty, holds null or holds a parameter twice.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative or NaN.</exception>
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = new List<Parameter>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (Parameter p in parameters)
        {
            if (p is null)
            {
                throw new ArgumentException($"Parameter {list.Count} is null.", nameof(parameters));
            }

            if (!seen.Add(p))
            {
                throw new ArgumentException($"Parameter {p.Name} appears more than once.", nameof(parameters));
            }

            list.Add(p);
        }

        if (list.Count == 0)
        {
            throw new ArgumentException("The optimizer got an empty parameter list.", nameof(parameters));
        }

        _parameters = [.. list];
        Parameters = new ReadOnlyCollection<Parameter>(_parameters);
        LearningRate = learningRate;
    }

    /// <summary>The parameters this optimizer updates, in the order given to the constructor.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>
    /// The learning rate <c>lr</c> of the update rule, zero or more. It may be changed between steps (a learning-rate
    /// schedule); the state built so far is kept.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or NaN.</exception>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Expected a learning rate of zero or more.");
            }

            _learningRate = value;
        }
    }

    /// <summary>The number of steps taken so far (PyTorch's <c>state["step"]</c>).</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameters, for the update loops of the optimizers in this assembly.</summary>
    private protected ReadOnlySpan<Parameter> ParameterSpan => _parameters;

    /// <summary>
    /// Applies one update to every parameter from its current gradient; the gradients are read, not changed.
    /// Allocates nothing.
    /// </summary>
    public void Step()
    {
        StepCount++;
        Update(StepCount);
    }

    /// <summary>
    /// Sets every parameter's gradient to zero (PyTorch's <c>zero_grad()</c>; there is no <c>None</c> gradient here,
    /// so this is <c>set_to_none=False</c>).
    /// </summary>
    public void ZeroGrad()
    {
        foreach (Parameter p in _parameters)
        {
            p.Grad.AsSpan().Clear();
        }
    }

    /// <summary>Applies the update rule to every parameter of <see cref="Parameters"/>.</summary>
    /// <param name="step">The number of this step, 1 for the first (PyTorch's <c>state["step"]</c> after its increment).</param>
    protected abstract void Update(long step);

    /// <summary>Allocates one zeroed state buffer per parameter, the length of its value.</summary>
    private protected float[][] NewStateBuffers()
    {
        var buffers = new float[_parameters.Length][];
        for (int i = 0; i < buffers.Length; i++)
        {
            buffers[i] = new float[_parameters[i].Value.Length];
        }

        return buffers;
    }

    /// <summary>Throws unless <paramref name="value"/> is zero or more (NaN fails).</summary>
    private protected static void CheckNonNegative(float value, string name)
    {
        if (!(value >= 0))
        {
            throw new ArgumentOutOfRangeException(name, value, $"Expected {name} of zero or more.");
        }
    }

    /// <summary>The parameters of <paramref name="model"/>, after a null check.</summary>
    private protected static IReadOnlyList<Parameter> ParametersOf(IModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Parameters();
    }
}
