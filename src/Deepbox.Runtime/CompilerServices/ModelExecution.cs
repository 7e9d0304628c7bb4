using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Threading;

namespace Deepbox.CompilerServices;

/// <summary>
/// What every generated model shares, held by composition (a user's partial class keeps its own base type): the
/// parameters and what works on them alone (names, state dicts, weight files, zeroing gradients); its packed weights,
/// published so that no pass ever reads weights being packed; a pool of per-pass workspaces; the one training workspace,
/// whose saved activations belong to one Forward/Backward pair at a time; the mode and the thread count. Generated
/// models hold one and forward to it, as System.Text.Json's generated contexts lean on its metadata services.
/// </summary>
/// <remarks>
/// <para>
/// <b>Evaluation passes</b> take a workspace of their own and the current weights (<see cref="BeginEvaluation"/>, which
/// first compares the parameters with the values those weights were packed from and repacks on a change), so any number
/// run at once, each computing exactly what it would alone; a pass costs one interlocked operation.
/// </para>
/// <para>
/// <b>Packing</b> happens under a lock, once per change of the parameters, into an instance no pass reads: the previous
/// weights when nothing can be reading them (a training loop repacks into the same two instances, allocation-free),
/// otherwise a new one; then the new weights are published. Passes that started earlier finish on the weights they took.
/// </para>
/// <para>
/// <b>Training passes</b> (<see cref="EnterTrainingPass()"/>) are one at a time: a second training-mode <c>Forward</c> or
/// <c>Backward</c> while one runs throws <see cref="InvalidOperationException"/>, as does <see cref="Eval"/> or a load.
/// </para>
/// </remarks>
/// <typeparam name="TWeights">The model's packed weights.</typeparam>
/// <typeparam name="TWorkspace">The model's per-pass workspace.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed partial class ModelExecution<TWeights, TWorkspace>
    where TWeights : PackedWeights
    where TWorkspace : class
{
    private const string TrainingRule =
        "A training-mode Forward/Backward pair belongs to one caller: another training-mode Forward or Backward is running on this model. "
        + "Run training passes one at a time, or call Eval() first for concurrent inference.";

    private readonly Parameter[] _parameters;
    private readonly Func<TWeights> _createWeights;
    private readonly Func<TWorkspace> _createWorkspace;
    private readonly WorkspacePool<TWorkspace> _pool;
    private readonly Lock _gate = new();
    private TWeights _current;
    private TWeights? _spare;
    private long _version;
    private TWorkspace? _trainingWorkspace;
    private TWeights? _trainingWeights;
    private int _trainingPass;
    private volatile bool _training = true;
    private volatile int _threads = 1;

    /// <summary>Packs the parameters' current values and starts in training mode, on one thread.</summary>
    /// <param name="parameters">The model's parameters, in order (the order of <see cref="PackedWeights.Snapshot"/>).</param>
    /// <param name="createWeights">Makes an empty instance of the model's packed weights.</param>
    /// <param name="createWorkspace">Makes an empty workspace.</param>
    public ModelExecution(Parameter[] parameters, Func<TWeights> createWeights, Func<TWorkspace> createWorkspace)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(createWeights);
        ArgumentNullException.ThrowIfNull(createWorkspace);
        _parameters = parameters;
        Parameters = Array.AsReadOnly(parameters);
        _createWeights = createWeights;
        _createWorkspace = createWorkspace;
        _pool = new WorkspacePool<TWorkspace>(createWorkspace);
        _current = createWeights();
        PackInto(_current);
    }

    /// <summary>The parameters, in PyTorch's order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Whether the model is in training mode.</summary>
    public bool IsTraining => _training;

    /// <summary>The parameters with their names, in PyTorch's order.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        foreach (Parameter p in _parameters)
        {
            yield return (p.Name, p);
        }
    }

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (Parameter p in _parameters)
        {
            p.Grad.AsSpan().Clear();
        }
    }

    /// <summary>The parameter values by name (the model's own tensors).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict() => StateDicts.Create(_parameters);

    /// <summary>Writes the parameters to a safetensors file.</summary>
    /// <param name="path">The file, replaced atomically.</param>
    public void Save(string path) => Safetensors.Save(path, StateDict());

    /// <summary>Loads the parameters from a safetensors file, as <see cref="Load(IReadOnlyDictionary{string, Tensor}, bool)"/> loads a state dict.</summary>
    /// <param name="path">The file.</param>
    /// <param name="strict">Whether missing and unexpected names are errors.</param>
    /// <returns>The missing and unexpected names.</returns>
    public LoadStateDictResult Load(string path, bool strict) => Load(Safetensors.Load(path).Tensors, strict);

    /// <summary>Threads a forward pass may use (each pass reads it once, when it starts).</summary>
    public int Threads
    {
        get => _threads;
        set => _threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be at least 1.");
    }

    /// <summary>
    /// Whether the training workspace holds a training-mode forward pass that Backward may go back through, or one a
    /// Backward has already gone back through (PyTorch frees the graph then: a second Backward needs a new Forward).
    /// </summary>
    public SavedPass Saved { get; private set; }

    /// <summary>The batch size of the saved pass.</summary>
    public int SavedBatch { get; private set; }

    /// <summary>The sequence length of the saved pass.</summary>
    public int SavedSeqLen { get; private set; }

    /// <summary>Whether the saved pass had unbatched input.</summary>
    public bool SavedUnbatched { get; private set; }

    /// <summary>The weights the saved pass ran on (held until the next training pass or <see cref="Eval"/>).</summary>
    public TWeights SavedWeights => _trainingWeights ?? throw new InvalidOperationException("No training-mode forward pass.");

    /// <summary>Switches to training mode. Evaluation passes already running finish as they started.</summary>
    public void Train() => _training = true;

    /// <summary>Switches to evaluation mode and drops the saved pass.</summary>
    /// <exception cref="InvalidOperationException">A training-mode pass is running.</exception>
    public void Eval()
    {
        EnterGate(GateHolder.Exclusive, "Eval()");
        try
        {
            _training = false;
            Saved = SavedPass.None;
            if (_trainingWeights is { } held)
            {
                _trainingWeights = null;
                Release(held);
            }
        }
        finally
        {
            ExitTrainingPass();
        }
    }

    /// <summary>
    /// The current weights for a pass, packed from the parameters' values now (repacked first when they changed); the
    /// caller gives them back with <see cref="Release"/>. They are not repacked while held.
    /// </summary>
    public TWeights Acquire()
    {
        while (true)
        {
            TWeights w = CountCurrent();
            if (Matches(w))
            {
                return w;
            }

            Release(w);
            Refresh();
        }
    }

    /// <summary>The published weights, counted as read (not repacked until <see cref="Release"/>).</summary>
    private TWeights CountCurrent()
    {
        while (true)
        {
            TWeights w = Volatile.Read(ref _current);
            Interlocked.Increment(ref w.Readers);
            // Still the published weights: they were not being repacked when counted.
            if (ReferenceEquals(w, Volatile.Read(ref _current)))
            {
                return w;
            }

            Interlocked.Decrement(ref w.Readers);
        }
    }

    /// <summary>Gives back weights taken with <see cref="Acquire"/>.</summary>
    /// <param name="weights">The weights.</param>
    public void Release(TWeights weights) => Interlocked.Decrement(ref weights.Readers);

    /// <summary>
    /// The weights <c>Step</c> reads: the last packed (by a pass, <see cref="Refresh"/> or a load), without comparing the
    /// parameters (a step is too short for that). In evaluation mode a step takes no count, and the weights it reads are
    /// never repacked in place again (a later change packs into new ones); in training mode, where the parameters change
    /// every optimizer step, it counts itself a reader as a pass does (<paramref name="counted"/>: give them back with
    /// <see cref="Release"/>), so a training loop that also streams repacks without allocating.
    /// </summary>
    /// <param name="counted">Whether the caller must <see cref="Release"/> the weights after the step.</param>
    public TWeights StepWeights(out bool counted)
    {
        TWeights w;
        if (_training)
        {
            counted = true;
            w = CountCurrent();
            return Volatile.Read(ref w.StepPacked) ? w : PackForStep(w, streamed: false);
        }

        counted = false;
        w = Volatile.Read(ref _current);
        return Volatile.Read(ref w.Streamed) ? w : PackForStep(w, streamed: true);
    }

    /// <summary>Brings the packed weights up to date with the parameters (packing them if they changed).</summary>
    public void Refresh()
    {
        // Counted while compared: weights counted are not repacked in place meanwhile (which could make a torn
        // comparison say they match).
        TWeights current = CountCurrent();
        bool matches = Matches(current);
        Release(current);
        if (matches)
        {
            return;
        }

        lock (_gate)
        {
            RefreshLocked();
        }
    }

    /// <summary>
    /// Loads parameter values by name (as <see cref="StateDicts.Load"/>) and packs them, as one step for concurrent
    /// evaluation passes: each runs on the old weights or on the new, never on a mix.
    /// </summary>
    /// <param name="stateDict">Tensors by PyTorch name.</param>
    /// <param name="strict">Whether missing and unexpected names are errors.</param>
    /// <returns>The missing and unexpected names.</returns>
    /// <exception cref="InvalidOperationException">A training-mode pass is running.</exception>
    public LoadStateDictResult Load(IReadOnlyDictionary<string, Tensor> stateDict, bool strict)
    {
        EnterGate(GateHolder.Exclusive, "Loading weights");
        try
        {
            lock (_gate)
            {
                LoadStateDictResult result = StateDicts.Load(_parameters, stateDict, strict);
                RefreshLocked();
                return result;
            }
        }
        finally
        {
            ExitTrainingPass();
        }
    }

    /// <summary>
    /// Starts an evaluation pass: takes a workspace of its own (pooled), then the current weights, packed from the
    /// parameters' values now (repacked first when they changed). No count is taken on the weights: while the pass holds
    /// its workspace, weights it may read are never repacked (see <see cref="RefreshLocked"/>). Disposing the pass (a
    /// <c>using</c>) gives the workspace back.
    /// </summary>
    /// <returns>The pass: its workspace and the weights it reads.</returns>
    public EvaluationPass BeginEvaluation()
    {
        // The workspace first (an interlocked exchange, a full fence): the weights are read after it is out.
        TWorkspace workspace = _pool.Rent();
        while (true)
        {
            TWeights weights = Volatile.Read(ref _current);
            if (Matches(weights))
            {
                return new EvaluationPass(this, workspace, weights);
            }

            // The parameters changed: repack with the workspace home, so that with no other pass running the repack reuses
            // the previous weights rather than allocate (it cannot while any workspace is out), then take it again.
            _pool.Return(workspace);
            Refresh();
            workspace = _pool.Rent();
        }
    }

    /// <summary>
    /// Starts a training-mode Forward or Backward on the training workspace; disposing the pass (a <c>using</c>) ends it.
    /// </summary>
    /// <returns>The pass: the training workspace.</returns>
    /// <exception cref="InvalidOperationException">Another training-mode pass is running.</exception>
    public TrainingPass EnterTrainingPass()
    {
        EnterGate(GateHolder.TrainingPass, what: null);
        return new TrainingPass(this, _trainingWorkspace ??= _createWorkspace());
    }

    /// <summary>
    /// Starts a training-mode Forward when the model is in training mode (as <see cref="EnterTrainingPass()"/>); false when
    /// it is in evaluation mode, also when <see cref="Eval"/> ran between the caller's reading of the mode and the pass's
    /// start (the caller then runs an evaluation pass, as it would have after <see cref="Eval"/>).
    /// </summary>
    /// <param name="pass">The pass, when started: dispose it to end it.</param>
    /// <returns>Whether a training pass started.</returns>
    /// <exception cref="InvalidOperationException">Another training-mode pass is running.</exception>
    public bool TryEnterTrainingPass(out TrainingPass pass)
    {
        pass = default;
        if (!_training)
        {
            return false;
        }

        EnterGate(GateHolder.TrainingPass, what: null);
        if (!_training)
        {
            // Eval() held the gate meanwhile and switched the mode: no training pass after it returned.
            ExitTrainingPass();
            return false;
        }

        pass = new TrainingPass(this, _trainingWorkspace ??= _createWorkspace());
        return true;
    }

    /// <summary>Ends what <see cref="EnterTrainingPass()"/> started (its <see cref="TrainingPass.Dispose"/> calls it).</summary>
    public void ExitTrainingPass() => Volatile.Write(ref _trainingPass, 0);

    /// <summary>
    /// Inside a training pass, before its Forward runs: drops the saved pass and takes the current weights for the new one,
    /// held (not repacked) until the next training Forward or <see cref="Eval"/>, so Backward reads what Forward read.
    /// </summary>
    public TWeights BeginTrainingForward()
    {
        Saved = SavedPass.None;
        if (_trainingWeights is { } held)
        {
            // Given back first, so the repack a changed parameter needs can reuse them rather than allocate.
            _trainingWeights = null;
            Release(held);
        }

        _trainingWeights = Acquire();
        return _trainingWeights;
    }

    /// <summary>Inside a training pass, after its Forward: records what Backward needs.</summary>
    /// <param name="batch">The batch size.</param>
    /// <param name="seqLen">The sequence length.</param>
    /// <param name="unbatched">Whether the input was unbatched.</param>
    public void EndTrainingForward(int batch, int seqLen, bool unbatched)
    {
        SavedBatch = batch;
        SavedSeqLen = seqLen;
        SavedUnbatched = unbatched;
        Saved = SavedPass.Ready;
    }

    /// <summary>Inside a training pass, after its Backward: the saved pass is spent, as PyTorch frees the graph.</summary>
    public void EndBackward() => Saved = SavedPass.Spent;

    /// <summary>Who holds the training gate: a training pass (an error for another caller) or Eval()/a load (waited for).</summary>
    private enum GateHolder
    {
        None = 0,
        TrainingPass = 1,
        Exclusive = 2,
    }

    /// <summary>
    /// Takes the training gate for <paramref name="holder"/>. A training pass holding it is an error for the caller; Eval or
    /// a load holding it is only waited for (they take microseconds).
    /// </summary>
    /// <param name="holder">Who takes it.</param>
    /// <param name="what">What the caller is doing, for the message (null for a training pass: the rule says it).</param>
    private void EnterGate(GateHolder holder, string? what)
    {
        var spin = default(SpinWait);
        while (true)
        {
            var was = (GateHolder)Interlocked.CompareExchange(ref _trainingPass, (int)holder, (int)GateHolder.None);
            if (was == GateHolder.None)
            {
                return;
            }

            if (was == GateHolder.TrainingPass)
            {
                throw new InvalidOperationException(what is null ? TrainingRule : what + " while a training-mode pass is running: " + TrainingRule);
            }

            spin.SpinOnce();
        }
    }

    /// <summary>
    /// Under the gate: packs what Step alone reads, once per packing, and marks weights that uncounted steps will read
    /// (the current ones: <paramref name="counted"/> weights are held by the caller, the others are re-read here).
    /// </summary>
    private TWeights PackForStep(TWeights counted, bool streamed)
    {
        lock (_gate)
        {
            TWeights w = streamed ? _current : counted;
            if (!w.StepPacked)
            {
                w.RunPackForStep();
                Volatile.Write(ref w.StepPacked, true);
            }

            if (streamed)
            {
                Volatile.Write(ref w.Streamed, true);
            }

            return w;
        }
    }

    /// <summary>Under the gate: packs the parameters into weights no pass reads and publishes them, if they changed.</summary>
    private void RefreshLocked()
    {
        TWeights current = _current;
        if (Matches(current))
        {
            return;
        }

        // The previous weights are repacked in place only when nothing can be reading them: no counted reader (a training
        // pass, a training-mode step), no uncounted step (Streamed), and no evaluation pass (all workspaces home: a pass
        // takes its workspace before it reads the current weights, so one that started later reads the new ones).
        TWeights target = _spare is { Streamed: false } spare && Volatile.Read(ref spare.Readers) == 0 && _pool.AllHome()
            ? spare
            : _createWeights();
        PackInto(target);
        Volatile.Write(ref _current, target);
        _spare = current.Streamed ? null : current;
    }

    private void PackInto(TWeights target)
    {
        Span<float> snapshot = target.Snapshot;
        int at = 0;
        foreach (Parameter p in _parameters)
        {
            ReadOnlySpan<float> value = p.Value.AsSpan();
            value.CopyTo(snapshot.Slice(at));
            at += value.Length;
        }

        target.RunPack();
        target.StepPacked = false;
        target.Version = ++_version;
    }

    /// <summary>Whether every parameter still has the bits <paramref name="w"/> was packed from.</summary>
    private bool Matches(TWeights w)
    {
        ReadOnlySpan<float> snapshot = w.Snapshot;
        int at = 0;
        foreach (Parameter p in _parameters)
        {
            ReadOnlySpan<float> value = p.Value.AsSpan();
            if (!MemoryMarshal.Cast<float, int>(value).SequenceEqual(MemoryMarshal.Cast<float, int>(snapshot.Slice(at, value.Length))))
            {
                return false;
            }

            at += value.Length;
        }

        return true;
    }
}

/// <summary>What the training workspace holds for <c>Backward</c> (<see cref="ModelExecution{TWeights, TWorkspace}.Saved"/>).</summary>
public enum SavedPass
{
    /// <summary>No training-mode forward pass since the last <c>Eval()</c> (or ever).</summary>
    None = 0,

    /// <summary>A training-mode forward pass that Backward may go back through.</summary>
    Ready = 1,

    /// <summary>A pass a Backward has gone back through: another Backward needs a new Forward.</summary>
    Spent = 2,
}
