using System;
using System.IO;
using System.Linq;
using ForecasterSample;
using Xunit;

namespace Deepbox.Tests;

/// <summary>The Forecaster sample: it learns, it beats nothing by accident, and its saved weights reload exactly.</summary>
public sealed class ForecasterSampleTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "deepbox-forecaster-" + Guid.NewGuid().ToString("N"));

    public ForecasterSampleTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ShipsTheAirlinePassengersSeries()
    {
        var series = AirPassengers.Load();
        Assert.Equal(144, series.Count);
        Assert.Equal(new DateOnly(1949, 1, 1), series[0].Month);
        Assert.Equal(new DateOnly(1960, 12, 1), series[^1].Month);
        Assert.Equal(40363, series.Sum(m => (double)m.Passengers)); // Box & Jenkins' Series G: mean 280.2986
        Assert.Equal([112f, 118f, 132f], series.Take(3).Select(m => m.Passengers));
        Assert.Equal(622f, series.Max(m => m.Passengers)); // July 1960
    }

    [Fact]
    public void ShortTrainingLowersTheLossAndGivesFiniteForecasts()
    {
        var log = new StringWriter();
        TrainingResult result = Training.Run(new TrainingOptions { Epochs = 20, ReportEvery = 5 }, log);

        Assert.Equal(20, result.EpochLosses.Count);
        Assert.All(result.EpochLosses, l => Assert.True(float.IsFinite(l) && l > 0, $"loss {l}"));
        Assert.True(result.EpochLosses[^1] < 0.6f * result.EpochLosses[0], $"loss {result.EpochLosses[0]} -> {result.EpochLosses[^1]}");

        Assert.Equal(24, result.TestPredictions.Length);
        Assert.All(result.TestPredictions, p => Assert.True(float.IsFinite(p) && p > 0, $"forecast {p}"));
        Assert.True(double.IsFinite(result.TestRmse) && result.TestRmse > 0);
        Assert.Equal(51.782, result.BaselineRmse, 3); // the naive forecast of 1959-1960 on the real series
        Assert.False(result.Model.IsTraining);
        Assert.Null(result.ReloadedPredictions);

        string text = log.ToString();
        Assert.Contains("epoch  1/20  loss ", text, StringComparison.Ordinal);
        Assert.Contains("epoch 20/20  loss ", text, StringComparison.Ordinal);
        Assert.Contains("naive last-value baseline 51.8", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameSeedGivesTheSameRun()
    {
        var options = new TrainingOptions { Epochs = 3 };
        TrainingResult a = Training.Run(options, TextWriter.Null);
        TrainingResult b = Training.Run(options, TextWriter.Null);
        Assert.Equal(a.EpochLosses, b.EpochLosses);
        Assert.Equal(a.TestPredictions, b.TestPredictions);
    }

    [Fact]
    public void SavedWeightsReloadToIdenticalForecasts()
    {
        string path = Path.Combine(_dir, "forecaster.safetensors");
        TrainingResult result = Training.Run(new TrainingOptions { Epochs = 5, WeightsPath = path }, TextWriter.Null);
        Assert.True(result.ReloadMatches);

        // Independently of the sample's own check: a model of another seed forecasts differently until it loads the file.
        var fresh = new ForecasterSample.Forecaster(seed: 7);
        Assert.NotEqual(result.TestPredictions, result.Data.PredictTest(fresh));
        SafetensorsFile file = Safetensors.Load(path);
        fresh.LoadStateDict(file.Tensors);
        Assert.Equal(result.TestPredictions, result.Data.PredictTest(fresh));
        Assert.Equal(result.Data.Scale.ToString("R", System.Globalization.CultureInfo.InvariantCulture), file.Metadata["scale"]);

        // The ONNX file beside it gives the model's outputs in ONNX Runtime.
        ForecastData data = result.Data;
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.ChangeExtension(path, ".onnx"));
        var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(data.TestInputs, [data.TestCount, data.Window, 1]);
        using var outputs = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("input", input)]);
        float[] onnx = outputs.First(o => o.Name == "output").AsTensor<float>().ToArray();
        result.Model.Eval();
        float[] deepbox = result.Model.Forward(Tensor.FromArray(data.TestInputs, data.TestCount, data.Window, 1)).ToArray();
        TestSupport.AssertClose(deepbox, onnx, 1e-5, "Forecaster through ONNX Runtime");
    }

    [Fact]
    public void WritesBothCharts()
    {
        TrainingResult result = Training.Run(new TrainingOptions { Epochs = 2 }, TextWriter.Null);
        string loss = Path.Combine(_dir, "loss.png");
        string forecast = Path.Combine(_dir, "forecast.png");
        Plots.SaveLoss(result, loss);
        Plots.SaveForecast(result, forecast);
        foreach (string png in new[] { loss, forecast })
        {
            byte[] bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 10_000, $"{png}: {bytes.Length} bytes");
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }
    }
}
