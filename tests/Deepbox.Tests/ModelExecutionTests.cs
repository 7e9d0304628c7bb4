using System;
using System.Linq;
using Deepbox.CompilerServices;
using Xunit;

namespace Deepbox.Tests;

/// <summary>
/// What every generated model's execution does with its packed weights and its training gate, on a model of one
/// parameter (the generated models' own tests run it through Forward, Backward and Step).
/// </summary>
public class ModelExecutionTests
{
    /// <summary>
    /// A change of the parameters seen by an evaluation pass repacks into the previous weights when no other pass runs:
    /// the pass gives its workspace back while it repacks (with it out, the previous weights could be read, and a new
    /// instance was made for every change).
    /// </summary>
    [Fact]
    public void AnEvaluationPassRepacksChangedParametersIntoThePreviousWeights()
    {
        var p = new Parameter("w", 4);
        int created = 0;
        var exec = new ModelExecution<Weights, object>([p], () => { created++; return new Weights(); }, () => new object());
        exec.Eval();
        for (int i = 1; i <= 10; i++)
        {
            p.Value.AsSpan()[0] = i;
            using ModelExecution<Weights, object>.EvaluationPass pass = exec.BeginEvaluation();
            Assert.Equal(i, pass.Weights.Snapshot[0]);
            Assert.Equal(i, pass.Weights.Packed);
        }

        Assert.Equal(2, created); // the first packing and one more: every later change repacks into the one not current
    }

    /// <summary>The same through a generated model: writes in place between evaluation passes allocate nothing.</summary>
    [Fact]
    public void WritesInPlaceBetweenEvaluationPassesAllocateNothing()
    {
        var model = new Models.Lstm9x8();
        model.Eval();
        float[] x = TestSupport.RandomArray(new Random(3), 2 * 3 * 9);
        var y = new float[2 * 3 * 8];
        Parameter p = model.Parameters().First();
        void ChangeAndRun()
        {
            p.Value.AsSpan()[0] += 1e-3f;
            model.Forward(x, 2, 3, y);
        }

        ChangeAndRun();
        ChangeAndRun(); // the second instance exists
        Assert.Equal(0, TestSupport.QuietestAllocation(ChangeAndRun));
    }

    /// <summary>
    /// A training-mode Forward starts a training pass only in training mode, read again once it holds the gate (a
    /// concurrent Eval() switches the mode under the gate); a second one while the first runs is refused.
    /// </summary>
    [Fact]
    public void ATrainingPassStartsOnlyInTrainingMode()
    {
        var exec = new ModelExecution<Weights, object>([new Parameter("w", 4)], () => new Weights(), () => new object());
        Assert.True(exec.TryEnterTrainingPass(out ModelExecution<Weights, object>.TrainingPass pass));
        Assert.Throws<InvalidOperationException>(() => exec.TryEnterTrainingPass(out _));
        Assert.Throws<InvalidOperationException>(exec.Eval);
        pass.Dispose();

        exec.Eval();
        Assert.False(exec.TryEnterTrainingPass(out _));
        exec.Train();
        Assert.True(exec.TryEnterTrainingPass(out pass));
        pass.Dispose();
    }

    /// <summary>Weights that remember the value they packed.</summary>
    public sealed class Weights() : PackedWeights(4)
    {
        public float Packed { get; private set; } = float.NaN;

        protected override void Pack() => Packed = Snapshot[0];
    }
}
