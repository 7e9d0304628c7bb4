using System;
using Deepbox;

namespace Deepbox.Benchmarks;

/// <summary>The Deepbox model class of each workload (the benchmarks themselves call the concrete classes directly).</summary>
public static class DeepboxModels
{
    /// <summary>A new model of the workload, with the weights <c>torch.manual_seed(seed)</c> gives.</summary>
    public static IModel Create(Workload workload, int seed)
    {
        ArgumentNullException.ThrowIfNull(workload);
        return workload.Name switch
        {
            "W0_Rnn" => new W0Rnn(seed),
            "W0_Lstm" => new W0Lstm(seed),
            "W0_Gru" => new W0Gru(seed),
            "S8_Lstm" => new S8Lstm(seed),
            "S16_Lstm" => new S16Lstm(seed),
            "S32_Lstm" => new S32Lstm(seed),
            "S64_Lstm" => new S64Lstm(seed),
            "S8_Gru" => new S8Gru(seed),
            "S16_Gru" => new S16Gru(seed),
            "S32_Gru" => new S32Gru(seed),
            "S64_Gru" => new S64Gru(seed),
            "W1_Lstm" => new W1Lstm(seed),
            "W2_Lstm" => new W2Lstm(seed),
            "W3_Lstm" => new W3Lstm(seed),
            "W4_Gru" => new W4Gru(seed),
            _ => throw new ArgumentException($"No Deepbox model for {workload.Name}", nameof(workload)),
        };
    }

    /// <summary>A zero streaming state of a streaming model.</summary>
    public static ModelState CreateState(IModel model) => model switch
    {
        S8Lstm m => m.CreateState(),
        S16Lstm m => m.CreateState(),
        S32Lstm m => m.CreateState(),
        S64Lstm m => m.CreateState(),
        S8Gru m => m.CreateState(),
        S16Gru m => m.CreateState(),
        S32Gru m => m.CreateState(),
        S64Gru m => m.CreateState(),
        _ => throw new ArgumentException($"{model?.GetType().Name} is not a streaming workload's model", nameof(model)),
    };

    /// <summary>One streaming step of a streaming model.</summary>
    public static void Step(IModel model, ReadOnlySpan<float> x, ModelState state, Span<float> y)
    {
        switch (model)
        {
            case S8Lstm m: m.Step(x, state, y); break;
            case S16Lstm m: m.Step(x, state, y); break;
            case S32Lstm m: m.Step(x, state, y); break;
            case S64Lstm m: m.Step(x, state, y); break;
            case S8Gru m: m.Step(x, state, y); break;
            case S16Gru m: m.Step(x, state, y); break;
            case S32Gru m: m.Step(x, state, y); break;
            case S64Gru m: m.Step(x, state, y); break;
            default: throw new ArgumentException($"{model?.GetType().Name} is not a streaming workload's model", nameof(model));
        }
    }
}
