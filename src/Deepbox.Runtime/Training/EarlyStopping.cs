using System;
using System.Collections.Generic;

namespace Deepbox;

/// <summary>
/// Stops training when a validation metric stops improving and keeps the best weights (the callback of Keras and
/// PyTorch Lightning, with PyTorch's naming): call <see cref="Update"/> with the metric after each evaluation; it copies
/// the model's parameters whenever the metric improves, and returns true at the <c>patience</c>-th evaluation in a row
/// without improvement (Lightning's rule). Then <see cref="RestoreBest"/> copies the best weights back.
/// </summary>
/// <remarks>
/// The copy lives in buffers allocated once, in the constructor, so <see cref="Update"/> allocates nothing. A metric
/// that is NaN or infinite stops training at once (<see cref="StoppedOnNonFinite"/>): a diverged run has nothing better
/// to come, and its weights are not kept.
/// </remarks>
public sealed class EarlyStopping
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly float[][] _best;

    /// <summary>Watches <paramref name="model"/>'s parameters.</summary>
    /// <param name="model">The model being trained.</param>
    /// <param name="patience">Evaluations in a row without improvement that stop training (default 5; 0 stops at the first).</param>
    /// <param name="minDelta">How much a metric must beat the best by to count as an improvement (default 0).</param>
    /// <param name="mode">Whether lower (a loss, the default) or higher (an accuracy) is better.</param>
    public EarlyStopping(IModel model, int patience = 5, double minDelta = 0, MetricMode mode = MetricMode.Min)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        if (!(minDelta >= 0) || double.IsPositiveInfinity(minDelta))
        {
            throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "Expected a finite minDelta of zero or more.");
        }

        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Expected Min or Max.");
        }

        _parameters = model.Parameters();
        _best = new float[_parameters.Count][];
        for (int i = 0; i < _best.Length; i++)
        {
            _best[i] = new float[_parameters[i].Value.Length];
        }

        Patience = patience;
        MinDelta = minDelta;
        Mode = mode;
        Best = mode == MetricMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <summary>Evaluations in a row without improvement that stop training.</summary>
    public int Patience { get; }

    /// <summary>How much a metric must beat the best by.</summary>
    public double MinDelta { get; }

    /// <summary>Whether lower or higher is better.</summary>
    public MetricMode Mode { get; }

    /// <summary>The best metric so far (infinity in Min mode before the first update).</summary>
    public double Best { get; private set; }

    /// <summary>The number of the update (1 for the first) that gave <see cref="Best"/>, or 0 before any improvement.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The updates so far.</summary>
    public int Epoch { get; private set; }

    /// <summary>Updates since the last improvement.</summary>
    public int BadEpochs { get; private set; }

    /// <summary>Whether training should stop (the last <see cref="Update"/> returned true).</summary>
    public bool ShouldStop { get; private set; }

    /// <summary>Whether the stop came from a NaN or infinite metric.</summary>
    public bool StoppedOnNonFinite { get; private set; }

    /// <summary>Whether best weights have been kept (a first finite metric was seen).</summary>
    public bool HasBest => BestEpoch > 0;

    /// <summary>Reports the metric of an evaluation; keeps the weights when it is the best so far.</summary>
    /// <param name="metric">The validation metric.</param>
    /// <returns>True when training should stop: <see cref="Patience"/> updates in a row without improvement, or a non-finite metric.</returns>
    public bool Update(double metric)
    {
        Epoch++;
        if (!double.IsFinite(metric))
        {
            StoppedOnNonFinite = true;
            ShouldStop = true;
            return true;
        }

        bool better = Mode == MetricMode.Min ? metric < Best - MinDelta : metric > Best + MinDelta;
        if (better)
        {
            Best = metric;
            BestEpoch = Epoch;
            BadEpochs = 0;
            for (int i = 0; i < _best.Length; i++)
            {
                _parameters[i].Value.AsSpan().CopyTo(_best[i]);
            }

            ShouldStop = false;
        }
        else
        {
            BadEpochs++;
            ShouldStop = BadEpochs >= Patience;
        }

        return ShouldStop;
    }

    /// <summary>
    /// Copies the best weights back into the model's parameters, in place: the next <c>Forward</c> (or
    /// <c>CreateState</c>, for streaming) runs on them, as after a load.
    /// </summary>
    /// <exception cref="InvalidOperationException">No finite metric has been reported yet, so there are no best weights.</exception>
    public void RestoreBest()
    {
        if (!HasBest)
        {
            throw new InvalidOperationException("No best weights to restore: Update has not seen a finite metric yet.");
        }

        for (int i = 0; i < _best.Length; i++)
        {
            _best[i].CopyTo(_parameters[i].Value.AsSpan());
        }
    }
}
