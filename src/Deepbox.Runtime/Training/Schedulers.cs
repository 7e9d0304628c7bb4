using System;

namespace Deepbox;

/// <summary>
/// Sets an optimizer's learning rate as training goes, as <c>torch.optim.lr_scheduler</c> does: create it after the
/// optimizer, call the optimizer's <c>Step()</c> for each batch and the scheduler's <c>Step</c> when its period ends
/// (each epoch for <see cref="StepLR"/> and <see cref="CosineAnnealingLR"/>, each batch for <see cref="OneCycleLR"/>, each
/// validation for <see cref="ReduceLROnPlateau"/>). Any optimizer: the scheduler only writes
/// <see cref="Optimizer.LearningRate"/>.
/// </summary>
/// <remarks>
/// The rates are computed in double, by PyTorch's own recurrences (the chainable forms of its <c>get_lr</c>), and
/// written to the optimizer in float, so a schedule gives PyTorch's learning rates rounded to float. A scheduler starts
/// from the rate the optimizer has when it is created; if something else changes the optimizer's rate between steps
/// (another scheduler, the caller), the next step continues from that rate, as PyTorch's chainable schedulers do.
/// </remarks>
public abstract class LearningRateScheduler
{
    private double _rate;

    /// <summary>Binds the scheduler to <paramref name="optimizer"/>; its current rate is the base rate.</summary>
    /// <param name="optimizer">The optimizer whose learning rate this scheduler sets.</param>
    private protected LearningRateScheduler(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        BaseLearningRate = optimizer.LearningRate;
        _rate = BaseLearningRate;
    }

    /// <summary>The optimizer whose learning rate this scheduler sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The optimizer's learning rate when the scheduler was created (PyTorch's <c>base_lrs[0]</c>).</summary>
    public double BaseLearningRate { get; }

    /// <summary>The steps taken: 0 after construction (PyTorch's <c>last_epoch</c>).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>The last rate set, in double before the optimizer's rounding to float (PyTorch's <c>get_last_lr()[0]</c>).</summary>
    public double LearningRate => _rate;

    /// <summary>The rate the next step starts from: this scheduler's own, unless the optimizer's was changed since.</summary>
    private protected double Current => (float)_rate == Optimizer.LearningRate ? _rate : Optimizer.LearningRate;

    /// <summary>Counts a step and sets its rate on the optimizer.</summary>
    /// <param name="rate">The rate of step <see cref="LastEpoch"/> + 1, computed from that number and <see cref="Current"/>.</param>
    private protected void Commit(double rate)
    {
        LastEpoch++;
        Set(rate);
    }

    /// <summary>Sets the rate (PyTorch's <c>group["lr"] = ...</c>).</summary>
    private protected void Set(double rate)
    {
        _rate = rate;
        Optimizer.LearningRate = (float)rate;
    }

    /// <summary>Counts a step without setting a rate (<see cref="ReduceLROnPlateau"/> sets one only on a cut).</summary>
    private protected void Count() => LastEpoch++;

    private protected static void CheckPositive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Expected {name} above zero.");
        }
    }

    private protected static void CheckFinite(double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"Expected a finite {name}.");
        }
    }
}

/// <summary>
/// Multiplies the learning rate by <c>gamma</c> every <c>stepSize</c> epochs (PyTorch's <c>StepLR</c>): epoch e has
/// <c>base * gamma^floor(e / stepSize)</c>. Call <see cref="Step"/> once per epoch.
/// </summary>
public sealed class StepLR : LearningRateScheduler
{
    /// <summary>Creates the schedule; the optimizer keeps its rate for the first <paramref name="stepSize"/> epochs.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is set.</param>
    /// <param name="stepSize">Epochs between decays, above zero.</param>
    /// <param name="gamma">The factor of each decay (PyTorch's default 0.1).</param>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1)
        : base(optimizer)
    {
        CheckPositive(stepSize, nameof(stepSize));
        CheckFinite(gamma, nameof(gamma));
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>The factor of each decay.</summary>
    public double Gamma { get; }

    /// <summary>Ends an epoch: every <see cref="StepSize"/>-th call multiplies the rate by <see cref="Gamma"/>.</summary>
    public void Step() => Commit((LastEpoch + 1) % StepSize != 0 ? Current : Current * Gamma);
}

/// <summary>
/// Follows a cosine from the base rate down to <c>etaMin</c> over <c>tMax</c> epochs (PyTorch's <c>CosineAnnealingLR</c>):
/// epoch e has <c>etaMin + (base - etaMin) * (1 + cos(pi * e / tMax)) / 2</c>, and past <c>tMax</c> the cosine goes on
/// (back up to the base rate at <c>2 tMax</c>), as in PyTorch. Call <see cref="Step"/> once per epoch.
/// </summary>
public sealed class CosineAnnealingLR : LearningRateScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is set.</param>
    /// <param name="tMax">Epochs from the base rate to <paramref name="etaMin"/>, above zero.</param>
    /// <param name="etaMin">The lowest rate (PyTorch's default 0).</param>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0)
        : base(optimizer)
    {
        CheckPositive(tMax, nameof(tMax));
        CheckFinite(etaMin, nameof(etaMin));
        TMax = tMax;
        EtaMin = etaMin;
    }

    /// <summary>Epochs from the base rate to <see cref="EtaMin"/>.</summary>
    public int TMax { get; }

    /// <summary>The lowest rate.</summary>
    public double EtaMin { get; }

    /// <summary>Ends an epoch: the rate moves one epoch along the cosine (PyTorch's recurrence, in double).</summary>
    public void Step()
    {
        int epoch = LastEpoch + 1;
        double rate = Current;
        Commit((epoch - 1 - TMax) % (2 * TMax) == 0
            ? rate + ((BaseLearningRate - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2)
            : ((1 + Math.Cos(Math.PI * epoch / TMax)) / (1 + Math.Cos(Math.PI * (epoch - 1) / TMax)) * (rate - EtaMin)) + EtaMin);
    }
}

/// <summary>How <see cref="OneCycleLR"/> moves between its rates.</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine from the start value to the end value (PyTorch's <c>"cos"</c>, the default).</summary>
    Cos = 0,

    /// <summary>A straight line (PyTorch's <c>"linear"</c>).</summary>
    Linear = 1,
}

/// <summary>
/// The 1cycle policy (PyTorch's <c>OneCycleLR</c>): from <c>maxLr / divFactor</c> up to <c>maxLr</c> over the first
/// <c>pctStart</c> of <c>totalSteps</c>, then down to <c>maxLr / divFactor / finalDivFactor</c>; the momentum (SGD's
/// momentum, Adam's and AdamW's <c>beta1</c>) moves the other way, from <c>maxMomentum</c> to <c>baseMomentum</c> and
/// back. Call <see cref="Step"/> after every batch; creating the scheduler sets the optimizer's rate (and momentum) to
/// the first step's. It replaces the optimizer's own learning rate.
/// </summary>
public sealed class OneCycleLR : LearningRateScheduler
{
    private readonly (double EndStep, double StartLr, double EndLr, double StartMomentum, double EndMomentum)[] _phases;

    /// <summary>Creates the schedule and sets the rate (and momentum) of step 0.</summary>
    /// <param name="optimizer">The optimizer whose learning rate (and momentum) is set.</param>
    /// <param name="maxLr">The peak learning rate.</param>
    /// <param name="totalSteps">The number of <see cref="Step"/> calls the schedule covers (epochs times batches per epoch).</param>
    /// <param name="pctStart">The share of the steps spent raising the rate, in [0, 1] (PyTorch's default 0.3).</param>
    /// <param name="annealStrategy">Cosine (the default) or linear.</param>
    /// <param name="cycleMomentum">Whether the momentum moves inversely to the rate (PyTorch's default true). Needs an
    /// <see cref="Adam"/>, an <see cref="AdamW"/> or an <see cref="Sgd"/> created with momentum.</param>
    /// <param name="baseMomentum">The lowest momentum, at the peak rate (default 0.85).</param>
    /// <param name="maxMomentum">The highest momentum, at the ends (default 0.95).</param>
    /// <param name="divFactor">The first rate is <c>maxLr / divFactor</c> (default 25).</param>
    /// <param name="finalDivFactor">The last rate is the first divided by this (default 1e4).</param>
    /// <param name="threePhase">PyTorch's <c>three_phase</c>: up, back down to the first rate symmetrically, then down to the last.</param>
    /// <exception cref="ArgumentException">A bad value, or momentum cycling with an optimizer that has no momentum to cycle.</exception>
    public OneCycleLR(
        Optimizer optimizer,
        double maxLr,
        int totalSteps,
        double pctStart = 0.3,
        AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true,
        double baseMomentum = 0.85,
        double maxMomentum = 0.95,
        double divFactor = 25,
        double finalDivFactor = 1e4,
        bool threePhase = false)
        : base(optimizer)
    {
        CheckFinite(maxLr, nameof(maxLr));
        CheckPositive(totalSteps, nameof(totalSteps));
        if (!(pctStart >= 0 && pctStart <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "Expected pctStart in [0, 1].");
        }

        if (!Enum.IsDefined(annealStrategy))
        {
            throw new ArgumentOutOfRangeException(nameof(annealStrategy), annealStrategy, "Expected Cos or Linear.");
        }

        if (cycleMomentum)
        {
            CheckMomentum(optimizer, baseMomentum, nameof(baseMomentum));
            CheckMomentum(optimizer, maxMomentum, nameof(maxMomentum));
        }

        CheckFinite(divFactor, nameof(divFactor));
        CheckFinite(finalDivFactor, nameof(finalDivFactor));
        TotalSteps = totalSteps;
        Strategy = annealStrategy;
        CycleMomentum = cycleMomentum;
        double initial = maxLr / divFactor;
        double min = initial / finalDivFactor;
        _phases = threePhase
            ? [
                ((pctStart * totalSteps) - 1, initial, maxLr, maxMomentum, baseMomentum),
                ((2 * pctStart * totalSteps) - 2, maxLr, initial, baseMomentum, maxMomentum),
                (totalSteps - 1, initial, min, maxMomentum, maxMomentum),
            ]
            : [
                ((pctStart * totalSteps) - 1, initial, maxLr, maxMomentum, baseMomentum),
                (totalSteps - 1, maxLr, min, baseMomentum, maxMomentum),
            ];
        Set(Apply(0));
    }

    /// <summary>The number of <see cref="Step"/> calls the schedule covers.</summary>
    public int TotalSteps { get; }

    /// <summary>How the rate moves between its ends.</summary>
    public AnnealStrategy Strategy { get; }

    /// <summary>Whether the momentum moves inversely to the rate.</summary>
    public bool CycleMomentum { get; }

    /// <summary>Ends a batch: the rate (and momentum) of the next step.</summary>
    /// <exception cref="InvalidOperationException">Called more than <see cref="TotalSteps"/> times (PyTorch raises too).</exception>
    public void Step()
    {
        if (LastEpoch >= TotalSteps)
        {
            throw new InvalidOperationException(
                $"Tried to step {LastEpoch + 1} times. The specified number of total steps is {TotalSteps}: create the schedule with totalSteps covering every batch of every epoch.");
        }

        Commit(Apply(LastEpoch + 1));
    }

    /// <summary>PyTorch's <c>get_lr</c> at step <paramref name="step"/>: sets the momentum, returns the rate.</summary>
    private double Apply(int step)
    {
        double start = 0;
        for (int i = 0; i < _phases.Length; i++)
        {
            var phase = _phases[i];
            if (step <= phase.EndStep || i == _phases.Length - 1)
            {
                double pct = (step - start) / (phase.EndStep - start);
                double rate = Anneal(phase.StartLr, phase.EndLr, pct);
                if (CycleMomentum)
                {
                    SetMomentum(Optimizer, Anneal(phase.StartMomentum, phase.EndMomentum, pct));
                }

                return rate;
            }

            start = phase.EndStep;
        }

        throw new InvalidOperationException("Unreachable: the last phase always applies.");
    }

    private double Anneal(double start, double end, double pct) => Strategy == AnnealStrategy.Cos
        ? end + ((start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1))
        : ((end - start) * pct) + start;

    private static void CheckMomentum(Optimizer optimizer, double value, string name)
    {
        switch (optimizer)
        {
            case Adam:
                if (!(value >= 0 && value < 1))
                {
                    throw new ArgumentOutOfRangeException(name, value, $"Expected {name} in [0, 1): it becomes Adam's beta1.");
                }

                break;
            case Sgd sgd when sgd.Momentum > 0:
                CheckFinite(value, name);
                break;
            case Sgd:
                throw new ArgumentException(
                    "OneCycleLR cycles the momentum, but this SGD was created without momentum: create it with momentum (any value above zero; the schedule sets it) or pass cycleMomentum: false.",
                    nameof(optimizer));
            default:
                throw new ArgumentException(
                    $"OneCycleLR cycles the momentum, which it knows for Sgd (momentum) and Adam/AdamW (beta1), not for {optimizer.GetType().Name}: pass cycleMomentum: false.",
                    nameof(optimizer));
        }
    }

    private static void SetMomentum(Optimizer optimizer, double momentum)
    {
        if (optimizer is Adam adam)
        {
            adam.Beta1 = (float)momentum;
        }
        else
        {
            ((Sgd)optimizer).Momentum = (float)momentum;
        }
    }
}

/// <summary>Whether a lower or a higher metric is better, for <see cref="ReduceLROnPlateau"/> and <see cref="EarlyStopping"/>.</summary>
public enum MetricMode
{
    /// <summary>Lower is better (a loss; PyTorch's <c>"min"</c>, the default).</summary>
    Min = 0,

    /// <summary>Higher is better (an accuracy; PyTorch's <c>"max"</c>).</summary>
    Max = 1,
}

/// <summary>How a metric must beat the best so far to count as an improvement.</summary>
public enum ThresholdMode
{
    /// <summary>By a relative margin: below <c>best * (1 - threshold)</c> in Min mode (PyTorch's <c>"rel"</c>, the default).</summary>
    Rel = 0,

    /// <summary>By an absolute margin: below <c>best - threshold</c> in Min mode (PyTorch's <c>"abs"</c>).</summary>
    Abs = 1,
}

/// <summary>
/// Cuts the learning rate by <c>factor</c> when a metric has not improved for more than <c>patience</c> steps
/// (PyTorch's <c>ReduceLROnPlateau</c>): call <see cref="Step"/> with the validation loss (or accuracy, in Max mode)
/// after each evaluation. A NaN metric never counts as an improvement.
/// </summary>
public sealed class ReduceLROnPlateau : LearningRateScheduler
{
    private int _cooldownCounter;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="optimizer">The optimizer whose learning rate is set.</param>
    /// <param name="mode">Whether lower (the default) or higher metrics are better.</param>
    /// <param name="factor">The factor of each cut, in [0, 1) (default 0.1).</param>
    /// <param name="patience">Steps without improvement tolerated before a cut (default 10).</param>
    /// <param name="threshold">The margin an improvement needs (default 1e-4).</param>
    /// <param name="thresholdMode">Whether the margin is relative (the default) or absolute.</param>
    /// <param name="cooldown">Steps after a cut during which bad steps are not counted (default 0).</param>
    /// <param name="minLr">The lowest rate a cut may reach (default 0).</param>
    /// <param name="eps">A cut smaller than this is skipped (default 1e-8).</param>
    public ReduceLROnPlateau(
        Optimizer optimizer,
        MetricMode mode = MetricMode.Min,
        double factor = 0.1,
        int patience = 10,
        double threshold = 1e-4,
        ThresholdMode thresholdMode = ThresholdMode.Rel,
        int cooldown = 0,
        double minLr = 0,
        double eps = 1e-8)
        : base(optimizer)
    {
        if (!(factor >= 0 && factor < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "Expected a factor in [0, 1): the rate must go down.");
        }

        if (patience < 0 || cooldown < 0)
        {
            throw new ArgumentOutOfRangeException(patience < 0 ? nameof(patience) : nameof(cooldown), Math.Min(patience, cooldown), "Expected zero or more steps.");
        }

        if (!Enum.IsDefined(mode) || !Enum.IsDefined(thresholdMode))
        {
            throw new ArgumentOutOfRangeException(Enum.IsDefined(mode) ? nameof(thresholdMode) : nameof(mode), "Unknown mode.");
        }

        CheckFinite(threshold, nameof(threshold));
        CheckFinite(minLr, nameof(minLr));
        CheckFinite(eps, nameof(eps));
        Mode = mode;
        Factor = factor;
        Patience = patience;
        Threshold = threshold;
        ThresholdMode = thresholdMode;
        Cooldown = cooldown;
        MinLr = minLr;
        Eps = eps;
        Best = mode == MetricMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <summary>Whether lower or higher metrics are better.</summary>
    public MetricMode Mode { get; }

    /// <summary>The factor of each cut.</summary>
    public double Factor { get; }

    /// <summary>Steps without improvement tolerated before a cut.</summary>
    public int Patience { get; }

    /// <summary>The margin an improvement needs.</summary>
    public double Threshold { get; }

    /// <summary>Whether the margin is relative or absolute.</summary>
    public ThresholdMode ThresholdMode { get; }

    /// <summary>Steps after a cut during which bad steps are not counted.</summary>
    public int Cooldown { get; }

    /// <summary>The lowest rate a cut may reach.</summary>
    public double MinLr { get; }

    /// <summary>A cut smaller than this is skipped.</summary>
    public double Eps { get; }

    /// <summary>The best metric so far (infinity in Min mode before the first step).</summary>
    public double Best { get; private set; }

    /// <summary>Steps since the last improvement, not counting cooldown steps (PyTorch's <c>num_bad_epochs</c>).</summary>
    public int NumBadEpochs { get; private set; }

    /// <summary>Reports a metric; cuts the rate when it has not improved for more than <see cref="Patience"/> steps.</summary>
    /// <param name="metric">The metric of this evaluation (NaN counts as no improvement).</param>
    public void Step(double metric)
    {
        Count();
        if (IsBetter(metric))
        {
            Best = metric;
            NumBadEpochs = 0;
        }
        else
        {
            NumBadEpochs++;
        }

        if (_cooldownCounter > 0)
        {
            _cooldownCounter--;
            NumBadEpochs = 0;
        }

        if (NumBadEpochs > Patience)
        {
            double old = Current;
            double cut = Math.Max(old * Factor, MinLr);
            if (old - cut > Eps)
            {
                Set(cut);
            }

            _cooldownCounter = Cooldown;
            NumBadEpochs = 0;
        }
    }

    private bool IsBetter(double a) => (Mode, ThresholdMode) switch
    {
        (MetricMode.Min, ThresholdMode.Rel) => a < Best * (1 - Threshold),
        (MetricMode.Min, _) => a < Best - Threshold,
        (_, ThresholdMode.Rel) => a > Best * (Threshold + 1),
        _ => a > Best + Threshold,
    };
}
