using System;
using System.Threading;

namespace Deepbox;

/// <summary>Creates <see cref="MiniBatches{TInput, TTarget}"/> with the element types inferred.</summary>
public static class MiniBatches
{
    /// <summary>
    /// Mini-batches over samples stored one after another: sample i's input is
    /// <c>inputs[i * inputLength .. (i + 1) * inputLength]</c> (a whole sequence, <c>[T, features]</c> for a batch-first
    /// model), its target <c>targets[i * targetLength ..]</c> (a float to regress, an int label, a row of them).
    /// </summary>
    /// <typeparam name="TInput">The input element (float features).</typeparam>
    /// <typeparam name="TTarget">The target element (float values, int class labels).</typeparam>
    /// <param name="inputs">Every sample's input, one after another.</param>
    /// <param name="inputLength">Elements per sample's input.</param>
    /// <param name="targets">Every sample's target, one after another.</param>
    /// <param name="targetLength">Elements per sample's target.</param>
    /// <param name="batchSize">Samples per batch (the last may be smaller).</param>
    /// <param name="shuffle">Whether each epoch visits the samples in a new random order (PyTorch's <c>DataLoader(shuffle=True)</c>).</param>
    /// <param name="seed">The seed of the orders: the same seed gives the same epochs.</param>
    /// <param name="dropLast">Whether a last batch smaller than <paramref name="batchSize"/> is skipped.</param>
    public static MiniBatches<TInput, TTarget> Create<TInput, TTarget>(
        TInput[] inputs, int inputLength, TTarget[] targets, int targetLength, int batchSize, bool shuffle = true, int seed = 0, bool dropLast = false)
        where TInput : unmanaged
        where TTarget : unmanaged =>
        new(inputs, inputLength, targets, targetLength, batchSize, shuffle, seed, dropLast);
}

/// <summary>
/// A seeded mini-batch iterator (PyTorch's <c>DataLoader</c> over a tensor dataset): <c>foreach</c> over it is one
/// epoch, each batch its samples' inputs and targets gathered into buffers that are reused, so an epoch allocates
/// nothing. A batch's spans are valid until the next batch. One epoch runs at a time, on one thread: the batches share
/// the iterator's buffers, so give each thread an iterator of its own. Starting an epoch while another is under way (a
/// nested <c>foreach</c>, a second thread) makes the older one throw at its next batch, checked before and after it
/// gathers, rather than hand out a batch of a reshuffled order.
/// </summary>
/// <typeparam name="TInput">The input element.</typeparam>
/// <typeparam name="TTarget">The target element.</typeparam>
/// <example>
/// <code>
/// var batches = MiniBatches.Create(inputs, seqLen * features, labels, 1, batchSize: 32, seed: 1);
/// for (int epoch = 0; epoch &lt; 20; epoch++)
/// {
///     foreach (var batch in batches)
///     {
///         model.Forward(batch.Inputs, batch.Size, seqLen, logits.AsSpan(0, batch.Size * classes));
///         ...
///     }
/// }
/// </code>
/// </example>
public sealed class MiniBatches<TInput, TTarget>
    where TInput : unmanaged
    where TTarget : unmanaged
{
    private readonly TInput[] _inputs;
    private readonly TTarget[] _targets;
    private readonly int[] _order;
    private readonly TInput[] _inputBuffer;
    private readonly TTarget[] _targetBuffer;
    private readonly Random? _random;

    internal MiniBatches(TInput[] inputs, int inputLength, TTarget[] targets, int targetLength, int batchSize, bool shuffle, int seed, bool dropLast)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputLength);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetLength);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (inputs.Length % inputLength != 0)
        {
            throw new ArgumentException($"Expected whole samples of {inputLength} inputs, got {inputs.Length} elements.", nameof(inputs));
        }

        if (targets.Length % targetLength != 0)
        {
            throw new ArgumentException($"Expected whole samples of {targetLength} targets, got {targets.Length} elements.", nameof(targets));
        }

        int count = inputs.Length / inputLength;
        if (targets.Length / targetLength != count)
        {
            throw new ArgumentException(
                $"Expected as many targets as inputs: {count} samples of {inputLength} inputs, but {targets.Length / targetLength} of {targetLength} targets.",
                nameof(targets));
        }

        _inputs = inputs;
        _targets = targets;
        InputLength = inputLength;
        TargetLength = targetLength;
        BatchSize = batchSize;
        DropLast = dropLast;
        Count = count;
        _order = new int[count];
        for (int i = 0; i < count; i++)
        {
            _order[i] = i;
        }

        int capacity = Math.Min(batchSize, count);
        _inputBuffer = new TInput[capacity * inputLength];
        _targetBuffer = new TTarget[capacity * targetLength];
        _random = shuffle ? new Random(seed) : null;
    }

    /// <summary>The number of samples.</summary>
    public int Count { get; }

    /// <summary>Elements per sample's input.</summary>
    public int InputLength { get; }

    /// <summary>Elements per sample's target.</summary>
    public int TargetLength { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether a last, smaller batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch => DropLast ? Count / BatchSize : (Count + BatchSize - 1) / BatchSize;

    /// <summary>The epochs started so far (each <c>foreach</c> starts one).</summary>
    public int Epochs => Volatile.Read(ref _epochs);

    private int _epochs;

    /// <summary>Starts an epoch: a new order of the samples when shuffling, and an enumerator over its batches.</summary>
    public Enumerator GetEnumerator()
    {
        // The count moves before the order does: a loop whose epoch is no longer the count may be reading a reshuffle.
        int epoch = Interlocked.Increment(ref _epochs);
        _random?.Shuffle(_order);
        return new Enumerator(this, epoch);
    }

    /// <summary>The batches of one epoch; allocates nothing.</summary>
    public ref struct Enumerator
    {
        private readonly MiniBatches<TInput, TTarget> _owner;
        private readonly int _epoch;
        private int _start;
        private int _size;

        internal Enumerator(MiniBatches<TInput, TTarget> owner, int epoch)
        {
            _owner = owner;
            _epoch = epoch;
            _start = 0;
            _size = 0;
        }

        /// <summary>The current batch: its samples gathered into the reused buffers.</summary>
        public readonly MiniBatch<TInput, TTarget> Current => new(
            _owner._inputBuffer.AsSpan(0, _size * _owner.InputLength),
            _owner._targetBuffer.AsSpan(0, _size * _owner.TargetLength),
            _owner._order.AsSpan(_start - _size, _size));

        private readonly void CheckEpoch()
        {
            int now = _owner.Epochs;
            if (now != _epoch)
            {
                throw new InvalidOperationException(
                    $"Epoch {_epoch} of these mini-batches was still running when epoch {now} started (a nested foreach, or a second thread): the samples were reshuffled under it. Run one epoch at a time.");
            }
        }

        /// <summary>Gathers the next batch.</summary>
        /// <returns>False when the epoch is over.</returns>
        /// <exception cref="InvalidOperationException">Another epoch has started since this one did.</exception>
        public bool MoveNext()
        {
            MiniBatches<TInput, TTarget> o = _owner;
            CheckEpoch();
            int size = Math.Min(o.BatchSize, o.Count - _start);
            if (size <= 0 || (o.DropLast && size < o.BatchSize))
            {
                return false;
            }

            for (int b = 0; b < size; b++)
            {
                int i = o._order[_start + b];
                o._inputs.AsSpan(i * o.InputLength, o.InputLength).CopyTo(o._inputBuffer.AsSpan(b * o.InputLength));
                o._targets.AsSpan(i * o.TargetLength, o.TargetLength).CopyTo(o._targetBuffer.AsSpan(b * o.TargetLength));
            }

            // Again after the gathering: an epoch started meanwhile may have reshuffled the order under it.
            CheckEpoch();
            _start += size;
            _size = size;
            return true;
        }
    }
}

/// <summary>One mini-batch: its samples' inputs and targets, one sample after another, and which samples they are.</summary>
/// <typeparam name="TInput">The input element.</typeparam>
/// <typeparam name="TTarget">The target element.</typeparam>
public readonly ref struct MiniBatch<TInput, TTarget>
    where TInput : unmanaged
    where TTarget : unmanaged
{
    internal MiniBatch(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TTarget> targets, ReadOnlySpan<int> indices)
    {
        Inputs = inputs;
        Targets = targets;
        Indices = indices;
    }

    /// <summary>The batch's inputs: <see cref="Size"/> samples, one after another.</summary>
    public ReadOnlySpan<TInput> Inputs { get; }

    /// <summary>The batch's targets, in the same order.</summary>
    public ReadOnlySpan<TTarget> Targets { get; }

    /// <summary>The samples' indices in the data.</summary>
    public ReadOnlySpan<int> Indices { get; }

    /// <summary>The number of samples in the batch.</summary>
    public int Size => Indices.Length;
}
