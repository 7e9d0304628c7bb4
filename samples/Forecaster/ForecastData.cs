using System;
using System.Collections.Generic;
using System.Linq;
using Deepbox;

namespace ForecasterSample;

/// <summary>
/// The series cut into windows for one-month-ahead forecasting, normalized with statistics of the training range only.
/// </summary>
/// <remarks>
/// <para>
/// A window is the <see cref="Window"/> months up to and including a month <c>t</c>; its target is month <c>t + 1</c>.
/// The last <c>testMonths</c> months are the test range: training windows have their target before it (their inputs
/// never reach it), test windows have their target in it (their inputs may reach back into the training range, as a
/// real forecast's would).
/// </para>
/// <para>
/// Normalization: the series is taken in logs (its seasonal swings grow with its level, so in logs they are roughly
/// constant), and every window is made relative to its own last month, <c>x_k = (ln v[t - W + 1 + k] - ln v[t]) / s</c>,
/// with the target <c>y = (ln v[t + 1] - ln v[t]) / s</c>. The model thus learns the shape of a year's growth, not the
/// level, which matters here: the test years (1959-1960) are busier than any month in the training range, so a model
/// of levels would have to extrapolate. The scale <c>s</c> is the largest <c>|x_k|</c> or <c>|y|</c> over the training
/// windows, so training values lie in [-1, 1]. A prediction maps back as <c>v[t + 1] = v[t] * exp(s * y)</c>.
/// </para>
/// </remarks>
public sealed class ForecastData
{
    private readonly float[] _values;
    private readonly double[] _logs;

    private ForecastData(IReadOnlyList<(DateOnly Month, float Passengers)> series, int window, int testMonths)
    {
        Window = window;
        Months = [.. series.Select(m => m.Month)];
        _values = [.. series.Select(m => m.Passengers)];
        _logs = Array.ConvertAll(_values, v => Math.Log(v));
        TestStart = _values.Length - testMonths;
        TrainCount = TestStart - window;     // windows ending at t = window - 1 ... TestStart - 2
        TestCount = testMonths;              // windows ending at t = TestStart - 1 ... Length - 2

        double scale = 0;
        for (int i = 0; i < TrainCount; i++)
        {
            int t = TrainWindowEnd(i);
            scale = Math.Max(scale, Math.Abs(_logs[t + 1] - _logs[t]));
            for (int k = 0; k < window; k++)
            {
                scale = Math.Max(scale, Math.Abs(_logs[t - window + 1 + k] - _logs[t]));
            }
        }

        Scale = scale;
        TrainInputs = new float[TrainCount * window];
        TrainTargets = new float[TrainCount];
        TestInputs = new float[TestCount * window];
        TestTargets = new float[TestCount];
        for (int i = 0; i < TrainCount; i++)
        {
            Fill(TrainWindowEnd(i), TrainInputs.AsSpan(i * window, window), out TrainTargets[i]);
        }

        for (int i = 0; i < TestCount; i++)
        {
            Fill(TestWindowEnd(i), TestInputs.AsSpan(i * window, window), out TestTargets[i]);
        }
    }

    /// <summary>The first day of every month of the series.</summary>
    public IReadOnlyList<DateOnly> Months { get; }

    /// <summary>The series itself (passengers, in thousands).</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <summary>The months in a window.</summary>
    public int Window { get; }

    /// <summary>The index of the first month of the test range.</summary>
    public int TestStart { get; }

    /// <summary>The number of training windows.</summary>
    public int TrainCount { get; }

    /// <summary>The number of test windows, one per month of the test range.</summary>
    public int TestCount { get; }

    /// <summary>The scale <c>s</c> of the log-ratios, fitted on the training windows.</summary>
    public double Scale { get; }

    /// <summary>The normalized training windows, <c>[TrainCount, Window, 1]</c> row-major.</summary>
    public float[] TrainInputs { get; }

    /// <summary>The normalized training targets, one per window.</summary>
    public float[] TrainTargets { get; }

    /// <summary>The normalized test windows, <c>[TestCount, Window, 1]</c> row-major.</summary>
    public float[] TestInputs { get; }

    /// <summary>The normalized test targets, one per window.</summary>
    public float[] TestTargets { get; }

    /// <summary>Cuts <paramref name="series"/> into windows and fits the scale on its training range.</summary>
    /// <param name="series">The monthly series, all values positive.</param>
    /// <param name="window">The months in a window, at least 1.</param>
    /// <param name="testMonths">The months at the end held out for testing, at least 1.</param>
    /// <returns>The windows.</returns>
    /// <exception cref="ArgumentException">The series is too short for the window and the test range.</exception>
    public static ForecastData Create(IReadOnlyList<(DateOnly Month, float Passengers)> series, int window, int testMonths)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(testMonths, 1);
        if (series.Count - testMonths - window < 1)
        {
            throw new ArgumentException(
                $"A series of {series.Count} months leaves no training window of {window} months before a test range of {testMonths}.", nameof(series));
        }

        return new ForecastData(series, window, testMonths);
    }

    /// <summary>The index of the last month of training window <paramref name="i"/>.</summary>
    public int TrainWindowEnd(int i) => Window - 1 + i;

    /// <summary>The index of the last month of test window <paramref name="i"/> (its target is the month after).</summary>
    public int TestWindowEnd(int i) => TestStart - 1 + i;

    /// <summary>
    /// Forecasts every month of the test range with <paramref name="model"/> in evaluation mode (it is switched to it),
    /// in passengers (thousands).
    /// </summary>
    /// <param name="model">A model of one input and one output per sequence.</param>
    /// <returns>One forecast per test month.</returns>
    public float[] PredictTest(IModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.Eval();
        Tensor output = model.Forward(Tensor.FromArray(TestInputs, TestCount, Window, 1));
        ReadOnlySpan<float> y = output.AsSpan();
        var forecast = new float[TestCount];
        for (int i = 0; i < forecast.Length; i++)
        {
            forecast[i] = ToPassengers(TestWindowEnd(i), y[i]);
        }

        return forecast;
    }

    /// <summary>The naive forecast of every test month: the month before it.</summary>
    /// <returns>One value per test month.</returns>
    public float[] NaiveTest() => _values[(TestStart - 1)..^1];

    /// <summary>The true values of the test months.</summary>
    /// <returns>One value per test month.</returns>
    public float[] ActualTest() => _values[TestStart..];

    /// <summary>Maps a normalized prediction for the month after <paramref name="t"/> back to passengers.</summary>
    private float ToPassengers(int t, float y) => (float)(_values[t] * Math.Exp(Scale * y));

    private void Fill(int t, Span<float> inputs, out float target)
    {
        for (int k = 0; k < inputs.Length; k++)
        {
            inputs[k] = (float)((_logs[t - Window + 1 + k] - _logs[t]) / Scale);
        }

        target = (float)((_logs[t + 1] - _logs[t]) / Scale);
    }
}
