// Requantize one accumulator to an output code: the arithmetic contract (accel/arith.py requantize).
// Arithmetic shift right by SHIFT with round-half-to-even (a negative SHIFT is an exact left
// shift), then ReLU if asked, then saturation to [LO, HI]. Purely combinational.
`default_nettype none
module accel_requant #(
    parameter IN_W  = 32,   // accumulator width (two's complement)
    parameter SHIFT = 0,    // acc_frac - out_frac; must be < IN_W and <= 30
    parameter RELU  = 0,
    parameter OUT_W = 8,
    parameter LO    = 0,    // saturation bounds (code range of the output quantizer)
    parameter HI    = 255
) (
    input  wire signed [IN_W-1:0]  acc,
    output wire        [OUT_W-1:0] code
);
    localparam LSH = (SHIFT < 0) ? -SHIFT : 0;
    localparam EXT = IN_W + LSH + 2;
    wire signed [EXT-1:0] y;
    generate
        if (SHIFT > 0) begin : g_right
            localparam [SHIFT-1:0] HALF = 1 << (SHIFT - 1);
            wire signed [IN_W-1:0] q = acc >>> SHIFT;          // floor
            wire [SHIFT-1:0]       r = acc[SHIFT-1:0];         // remainder in [0, 2^SHIFT)
            wire up = (r > HALF) || ((r == HALF) && q[0]);     // ties go to the even neighbour
            assign y = q + $signed({1'b0, up});
        end else if (SHIFT == 0) begin : g_none
            assign y = acc;
        end else begin : g_left
            wire signed [EXT-1:0] a = acc;
            assign y = a <<< LSH;
        end
    endgenerate
    localparam signed [EXT-1:0] LO_E = LO;
    localparam signed [EXT-1:0] HI_E = HI;
    wire signed [EXT-1:0] zero = 0;
    wire signed [EXT-1:0] r1 = (RELU != 0 && y < zero) ? zero : y;
    wire signed [EXT-1:0] s  = (r1 < LO_E) ? LO_E : ((r1 > HI_E) ? HI_E : r1);
    assign code = s[OUT_W-1:0];
endmodule
`default_nettype wire
