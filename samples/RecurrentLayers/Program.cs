using System;
using RecurrentLayers;

if (args is ["--time-step", ..])
{
    // Streaming latency of the tutorial's models: `RecurrentLayers --time-step [steps]`.
    int steps = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2_000_000;
    StepTiming.Run(Console.Out, steps);
    return;
}

Tutorial.Run(Console.Out);
