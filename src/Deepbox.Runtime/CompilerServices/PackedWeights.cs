using System.ComponentModel;

namespace Deepbox.CompilerServices;

/// <summary>
/// A model's weights packed in the layout its kernels read, together with the parameter values they were packed from.
/// Generated models derive one class from it. Once published by <see cref="ModelExecution{TWeights, TWorkspace}"/>, what a
/// pass reads of an instance is never written while any pass reads it: a change of the parameters packs into an instance
/// no pass holds (or a new one), then publishes that. Only the buffers Step alone reads are filled later, once, before
/// the first step on them.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class PackedWeights
{
    /// <summary>Creates the buffers of a model with <paramref name="parameterCount"/> parameter values.</summary>
    /// <param name="parameterCount">The model's parameter values, all tensors together.</param>
    protected PackedWeights(int parameterCount)
    {
        Snapshot = new float[parameterCount];
    }

    /// <summary>The parameter values these weights were packed from: every parameter, in order, one after another.</summary>
    public float[] Snapshot { get; }

    /// <summary>Which packing of the parameters this is: a new value for every change (for caches derived from it).</summary>
    public long Version { get; internal set; }

    /// <summary>Passes reading these weights now (they may not be repacked while any does).</summary>
    internal int Readers;

    /// <summary>
    /// Whether an evaluation-mode <c>Step</c> has read these weights: such steps take no count (a step lasts tens of
    /// nanoseconds), so these weights are never repacked again.
    /// </summary>
    internal bool Streamed;

    /// <summary>Whether <see cref="PackForStep"/> has run on the current packing.</summary>
    internal bool StepPacked;

    /// <summary>Packs <see cref="Snapshot"/> into the kernels' layout.</summary>
    protected abstract void Pack();

    /// <summary>Packs what only <c>Step</c> reads (its 512-bit blocks), once, before the first step on these weights.</summary>
    protected virtual void PackForStep()
    {
    }

    /// <summary>Runs <see cref="Pack"/> (for <see cref="ModelExecution{TWeights, TWorkspace}"/>).</summary>
    internal void RunPack() => Pack();

    /// <summary>Runs <see cref="PackForStep"/> (for <see cref="ModelExecution{TWeights, TWorkspace}"/>).</summary>
    internal void RunPackForStep() => PackForStep();
}
