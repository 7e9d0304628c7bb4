using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Deepbox;
using Deepbox.Onnx;

namespace ForecasterSample;

/// <summary>How to train; the defaults are the sample's run.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training windows.</summary>
    public int Epochs { get; init; } = 200;

    /// <summary>The seed of the model's initial weights, its dropout masks and the shuffling of the windows.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>The months the model sees to forecast the next one.</summary>
    public int Window { get; init; } = 12;

    /// <summary>The months at the end of the series held out as the test range.</summary>
    public int TestMonths { get; init; } = 24;

    /// <summary>Windows per optimizer step.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Adam's learning rate at the start; it follows a cosine down to a tenth of it by the last epoch.</summary>
    public float LearningRate { get; init; } = 0.005f;

    /// <summary>The largest gradient norm a step may use (<see cref="Gradients.ClipGradNorm(IModel, float, float, bool)"/>).</summary>
    public float MaxGradNorm { get; init; } = 1f;

    /// <summary>
    /// Writes an epoch line to the log every this many epochs (and for the first and the last); 0 for none, when a
    /// progress display shows the epochs instead.
    /// </summary>
    public int ReportEvery { get; init; }

    /// <summary>Where to save the trained weights (safetensors), or null not to save them.</summary>
    public string? WeightsPath { get; init; }
}

/// <summary>One finished epoch, for a progress display.</summary>
/// <param name="Epoch">The epoch just finished, from 1.</param>
/// <param name="Epochs">The number of epochs in the run.</param>
/// <param name="Loss">The epoch's mean training loss (MSE of the normalized targets, in training mode).</param>
public readonly record struct EpochReport(int Epoch, int Epochs, float Loss);

/// <summary>What a training run gives.</summary>
/// <param name="Data">The windows the model was trained and tested on.</param>
/// <param name="Model">The trained model, in evaluation mode.</param>
/// <param name="EpochLosses">The mean training loss of each epoch.</param>
/// <param name="TestPredictions">The model's forecast of each test month (thousands of passengers).</param>
/// <param name="BaselinePredictions">The naive forecast of each test month: the month before.</param>
/// <param name="TestActual">The true value of each test month.</param>
/// <param name="TestRmse">The root mean squared error of the model's forecasts over the test range.</param>
/// <param name="BaselineRmse">The root mean squared error of the naive forecasts over the test range.</param>
/// <param name="TrainingTime">The time spent in the epochs.</param>
/// <param name="ReloadedPredictions">
/// The test forecasts of a fresh model loaded from <see cref="TrainingOptions.WeightsPath"/>, or null when nothing
/// was saved.
/// </param>
public sealed record TrainingResult(
    ForecastData Data,
    Forecaster Model,
    IReadOnlyList<float> EpochLosses,
    float[] TestPredictions,
    float[] BaselinePredictions,
    float[] TestActual,
    double TestRmse,
    double BaselineRmse,
    TimeSpan TrainingTime,
    float[]? ReloadedPredictions)
{
    /// <summary>Whether the model's forecasts beat the naive baseline on the test range.</summary>
    public bool BeatsBaseline => TestRmse < BaselineRmse;

    /// <summary>Whether the reloaded model's forecasts equal the trained model's bit for bit (false when not saved).</summary>
    public bool ReloadMatches => ReloadedPredictions is not null && ReloadedPredictions.AsSpan().SequenceEqual(TestPredictions);
}

/// <summary>Trains the <see cref="Forecaster"/> on the airline passengers and measures it on the held-out months.</summary>
public static class Training
{
    /// <summary>
    /// Loads the series, trains a seeded <see cref="Forecaster"/> with Adam on mini-batches of windows (MSE loss,
    /// gradient-norm clipping, a cosine learning-rate schedule), forecasts the test range, compares it with the naive
    /// last-value forecast, and saves and reloads the weights when <see cref="TrainingOptions.WeightsPath"/> is set.
    /// </summary>
    /// <param name="options">The run's settings.</param>
    /// <param name="log">Receives a readable account: the data, the epoch lines asked for, the results.</param>
    /// <param name="onEpoch">Called after every epoch (for a progress display), or null.</param>
    /// <returns>The losses, the forecasts and their errors.</returns>
    public static TrainingResult Run(TrainingOptions options, TextWriter log, Action<EpochReport>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Epochs, 1, nameof(options.Epochs));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegative(options.ReportEvery, nameof(options.ReportEvery));

        IReadOnlyList<(DateOnly Month, float Passengers)> series = AirPassengers.Load();
        ForecastData data = ForecastData.Create(series, options.Window, options.TestMonths);
        int window = data.Window;
        log.WriteLine(Invariant($"Airline passengers (Box & Jenkins Series G): {series.Count} months, {Month(data.Months[0])} to {Month(data.Months[^1])}, in thousands"));
        log.WriteLine(Invariant($"Train: {Month(data.Months[0])} to {Month(data.Months[data.TestStart - 1])}, {data.TrainCount} windows of {window} months -> the next month"));
        log.WriteLine(Invariant($"Test:  {Month(data.Months[data.TestStart])} to {Month(data.Months[^1])}, {data.TestCount} one-month-ahead forecasts"));
        log.WriteLine(Invariant($"Inputs: log-ratios to the window's last month, scaled by {data.Scale:F4} (fitted on the training range)"));

        var model = new Forecaster(options.Seed);
        log.WriteLine(Invariant($"Model: LSTM(1, 32, num_layers=2, dropout=0.1) -> last step -> Linear(32, 1), {Forecaster.ParameterCount} parameters, seed {options.Seed}"));
        log.WriteLine(Invariant($"Training: {options.Epochs} epochs, Adam lr {options.LearningRate:G3} (cosine to {options.LearningRate / 10.0:G3}), batch {options.BatchSize}, clip norm {options.MaxGradNorm}"));

        var optimizer = new Adam(model, lr: options.LearningRate);
        // The rate follows a cosine from its start down to a tenth of it at the last epoch.
        var schedule = new CosineAnnealingLR(optimizer, tMax: Math.Max(1, options.Epochs - 1), etaMin: options.LearningRate / 10.0);
        // Shuffled mini-batches of windows, a new order each epoch from the seed; the buffers are the iterator's own.
        var batches = MiniBatches.Create(data.TrainInputs, window, data.TrainTargets, 1, options.BatchSize, seed: options.Seed);
        int batchCapacity = Math.Min(options.BatchSize, data.TrainCount);
        var outputs = new float[batchCapacity];
        var gradients = new float[batchCapacity];
        var losses = new List<float>(options.Epochs);

        model.Train();
        var clock = Stopwatch.StartNew();
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            double sum = 0;
            foreach (MiniBatch<float, float> batch in batches)
            {
                // The allocation-free span forms: forward into our buffer, the loss's gradient into another, back
                // through time into every parameter's Grad, then clip and step.
                int n = batch.Size;
                optimizer.ZeroGrad();
                model.Forward(batch.Inputs, n, window, outputs.AsSpan(0, n));
                float loss = Losses.Mse(outputs.AsSpan(0, n), batch.Targets, gradients.AsSpan(0, n));
                model.Backward(gradients.AsSpan(0, n), Span<float>.Empty);
                Gradients.ClipGradNorm(model, options.MaxGradNorm);
                optimizer.Step();
                sum += (double)loss * n;
            }

            schedule.Step();
            float epochLoss = (float)(sum / data.TrainCount);
            losses.Add(epochLoss);
            onEpoch?.Invoke(new EpochReport(epoch, options.Epochs, epochLoss));
            if (options.ReportEvery > 0 && (epoch == 1 || epoch % options.ReportEvery == 0 || epoch == options.Epochs))
            {
                log.WriteLine(Invariant($"epoch {epoch.ToString().PadLeft(options.Epochs.ToString().Length)}/{options.Epochs}  loss {epochLoss:F6}"));
            }
        }

        clock.Stop();
        TimeSpan trainingTime = clock.Elapsed;

        float[] predictions = data.PredictTest(model);
        float[] naive = data.NaiveTest();
        float[] actual = data.ActualTest();
        double rmse = Rmse(predictions, actual);
        double baselineRmse = Rmse(naive, actual);
        log.WriteLine(Invariant($"Trained {options.Epochs} epochs in {trainingTime.TotalSeconds:F1} s: mean training loss {losses[0]:F5} -> {losses[^1]:F5}"));

        float[]? reloaded = null;
        if (options.WeightsPath is { } path)
        {
            reloaded = SaveAndReload(model, data, options, path, log);
        }

        var result = new TrainingResult(data, model, losses, predictions, naive, actual, rmse, baselineRmse, trainingTime, reloaded);
        log.WriteLine(Invariant($"Test RMSE, {Month(data.Months[data.TestStart])} to {Month(data.Months[^1])}: LSTM {rmse:F1}, naive last-value baseline {baselineRmse:F1} (thousand passengers)"));
        log.WriteLine(result.BeatsBaseline
            ? Invariant($"The LSTM beats the naive baseline: its error is {100 * (1 - (rmse / baselineRmse)):F0}% lower.")
            : "The LSTM does NOT beat the naive baseline: train longer (--epochs) or check the data.");
        return result;
    }

    /// <summary>The root mean squared difference of two equally long series, in double.</summary>
    /// <param name="predicted">The forecasts.</param>
    /// <param name="actual">The true values.</param>
    /// <returns>The RMSE.</returns>
    public static double Rmse(ReadOnlySpan<float> predicted, ReadOnlySpan<float> actual)
    {
        if (predicted.Length != actual.Length || predicted.IsEmpty)
        {
            throw new ArgumentException($"Expected two non-empty series of one length, got {predicted.Length} and {actual.Length}.", nameof(actual));
        }

        double sum = 0;
        for (int i = 0; i < predicted.Length; i++)
        {
            double d = (double)predicted[i] - actual[i];
            sum += d * d;
        }

        return Math.Sqrt(sum / predicted.Length);
    }

    /// <summary>
    /// Saves the model's state dict as safetensors (with the normalization in the metadata), loads it into a fresh
    /// model built from another seed, and forecasts the test range with it.
    /// </summary>
    private static float[] SaveAndReload(Forecaster model, ForecastData data, TrainingOptions options, string path, TextWriter log)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        var metadata = new Dictionary<string, string>
        {
            ["model"] = "Forecaster: LSTM(1, 32, num_layers=2, dropout=0.1) -> last step -> Linear(32, 1)",
            ["window"] = data.Window.ToString(CultureInfo.InvariantCulture),
            ["scale"] = data.Scale.ToString("R", CultureInfo.InvariantCulture),
            ["normalization"] = "x_k = (ln v[t-W+1+k] - ln v[t]) / scale; v[t+1] = v[t] * exp(scale * y)",
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
        };
        Safetensors.Save(path, model.StateDict(), metadata);

        // The same model for the rest of the serving world: ONNX, which ONNX Runtime (or any ONNX server) runs as is.
        string onnxPath = Path.ChangeExtension(path, ".onnx");
        OnnxExport.Save(model, onnxPath, new OnnxExportOptions { DocString = metadata["model"] + "; " + metadata["normalization"] });

        var fresh = new Forecaster(options.Seed + 1);
        SafetensorsFile file = Safetensors.Load(path);
        fresh.LoadStateDict(file.Tensors);
        float[] reloaded = data.PredictTest(fresh);
        float[] original = data.PredictTest(model);
        bool same = reloaded.AsSpan().SequenceEqual(original);
        log.WriteLine(Invariant($"Saved the weights: {path} ({file.Tensors.Count} tensors, {new FileInfo(path).Length:N0} bytes)"));
        log.WriteLine(Invariant($"Exported to ONNX: {onnxPath} ({new FileInfo(onnxPath).Length:N0} bytes; opset {OnnxExport.OpsetVersion}, batch and sequence dynamic)"));
        log.WriteLine(same
            ? Invariant($"Loaded into a fresh Forecaster(seed {options.Seed + 1}): the same {reloaded.Length} test forecasts, bit for bit")
            : Invariant($"Loaded into a fresh Forecaster(seed {options.Seed + 1}): DIFFERENT test forecasts"));
        return reloaded;
    }

    private static string Month(DateOnly month) => month.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
