using System;
using RecurrentLayers;

Tutorial.Run(Console.Out);
