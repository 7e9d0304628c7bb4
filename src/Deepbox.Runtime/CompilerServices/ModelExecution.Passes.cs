using System;

namespace Deepbox.CompilerServices;

/// <content>The passes a generated model runs in a <c>using</c> scope: an evaluation pass and a training pass.</content>
public sealed partial class ModelExecution<TWeights, TWorkspace>
{
    /// <summary>An evaluation pass in progress: its own workspace and the weights it reads.</summary>
    public readonly struct EvaluationPass : IDisposable
    {
        private readonly ModelExecution<TWeights, TWorkspace> _owner;

        internal EvaluationPass(ModelExecution<TWeights, TWorkspace> owner, TWorkspace workspace, TWeights weights)
        {
            _owner = owner;
            Workspace = workspace;
            Weights = weights;
        }

        /// <summary>The pass's workspace, no one else's while the pass runs.</summary>
        public TWorkspace Workspace { get; }

        /// <summary>The weights the pass reads, not repacked while it runs.</summary>
        public TWeights Weights { get; }

        /// <summary>Gives the workspace back (a plain store into its home slot).</summary>
        public void Dispose() => _owner._pool.Return(Workspace);
    }

    /// <summary>A training-mode Forward or Backward in progress, on the training workspace.</summary>
    public readonly struct TrainingPass : IDisposable
    {
        private readonly ModelExecution<TWeights, TWorkspace> _owner;

        internal TrainingPass(ModelExecution<TWeights, TWorkspace> owner, TWorkspace workspace)
        {
            _owner = owner;
            Workspace = workspace;
        }

        /// <summary>The training workspace, which keeps what Backward needs.</summary>
        public TWorkspace Workspace { get; }

        /// <summary>Ends the pass: another training-mode call may start.</summary>
        public void Dispose() => _owner.ExitTrainingPass();
    }
}
